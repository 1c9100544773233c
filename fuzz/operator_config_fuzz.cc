// Fuzzes the operator's login file (~/.config/porthole/operator.toml): a
// config that parses must write back to text that parses to the same
// config.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "cli/operator_config.h"
#include "cli/pem.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  (void)porthole::cli::SplitPemCertificates(input);
  (void)porthole::cli::NormalizeSha256Pin(input);
  (void)porthole::cli::NormalizeServerUrl(input);
  auto c = porthole::cli::ParseOperatorConfig(input, "operator.toml");
  if (!c.ok()) return 0;
  auto back = porthole::cli::ParseOperatorConfig(
      porthole::cli::FormatOperatorConfig(*c), "operator.toml");
  if (!back.ok() || !(*back == *c)) std::abort();
  return 0;
}
