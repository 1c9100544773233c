// A placeholder until the server proper lands (this file is replaced).
#include "server/run.h"

#include <cstdio>

namespace porthole::server {

int RunServer(const ServerConfig&) {
  std::fprintf(stderr, "porthole-server run: not implemented yet\n");
  return 1;
}

}  // namespace porthole::server
