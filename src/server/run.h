// `porthole-server run`: the server itself (device API, director, relay,
// operator API over the store). main.cc loads the configuration and calls
// RunServer(); it returns the process exit code.
#ifndef PORTHOLE_SERVER_RUN_H_
#define PORTHOLE_SERVER_RUN_H_

#include "server/config.h"

namespace porthole::server {

int RunServer(const ServerConfig& config);

}  // namespace porthole::server

#endif  // PORTHOLE_SERVER_RUN_H_
