// Fuzzes ParseServerConfig() (porthole-server's server.toml). A failure must
// be one kInvalidArgument line; a config that loads must survive
// FormatServerConfig() -> ParseServerConfig() with the same settings, and
// the durations their own format/parse round trip. A difference aborts.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "server/config.h"

namespace {

void CheckOneLine(const porthole::Status& s) {
  if (s.message().empty() || s.message().find('\n') != std::string::npos ||
      s.code() != porthole::StatusCode::kInvalidArgument) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto c = porthole::server::ParseServerConfig(input, "/fuzz/server.toml");
  if (c.ok()) {
    std::string text = porthole::server::FormatServerConfig(*c);
    auto back = porthole::server::ParseServerConfig(text, "/fuzz/server.toml");
    if (!back.ok() || !back->SameSettings(*c)) std::abort();
  } else {
    CheckOneLine(c.status());
  }
  if (size <= 256) {
    auto d = porthole::server::ParseConfigDuration(input);
    if (d.ok()) {
      auto again = porthole::server::ParseConfigDuration(
          porthole::server::FormatConfigDuration(*d));
      if (!again.ok() || *again != *d) std::abort();
    } else {
      CheckOneLine(d.status());
    }
  }
  return 0;
}
