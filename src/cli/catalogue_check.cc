// Build-time check of the catalogue compiled into porthole: it must parse,
// and no known key may also be revoked. Exit 1 with the reason otherwise.
#include <cstdio>

#include "core/keys/catalogue.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: porthole-catalogue-check FILE\n");
    return 2;
  }
  auto c = porthole::keys::Catalogue::Load(argv[1], false);
  if (!c.ok()) {
    std::fprintf(stderr, "catalogue check failed: %s\n",
                 c.status().message().c_str());
    return 1;
  }
  std::printf("catalogue %s: %zu known, %zu revoked\n", argv[1],
              c->known().size(), c->revoked().size());
  return 0;
}
