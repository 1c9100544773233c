// Fuzzes httpd's request-target parser (path and query decoding) and checks
// what it promises: a decoded path starts with '/', holds no NUL or control
// byte and no dot segment; every decoded name is non-empty.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/httpd/target.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view raw(reinterpret_cast<const char*>(data), size);
  auto t = porthole::httpd::ParseTarget(raw);
  if (!t.ok()) return 0;
  if (t->path.empty() || t->path[0] != '/') std::abort();
  for (unsigned char c : t->path) {
    if (c < 0x20 || c == 0x7f) std::abort();
  }
  std::string_view p = t->path;
  if (p == "/." || p == "/.." || p.ends_with("/.") || p.ends_with("/..") ||
      p.find("/./") != std::string_view::npos ||
      p.find("/../") != std::string_view::npos) {
    std::abort();
  }
  for (const auto& [name, value] : t->query) {
    if (name.empty()) std::abort();
  }
  return 0;
}
