// Fuzzes the strict JSON parser and the canonical JSON writer. Properties
// checked (a difference aborts):
//   - canonicalisation is deterministic and survives a round trip through
//     standard JSON: Canonical(Parse(Dump(v))) == Canonical(v);
//   - when the canonical bytes are themselves JSON (no raw control
//     characters), they are a fixed point;
//   - NFC is idempotent on valid UTF-8.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/tuf/canonical_json.h"
#include "core/tuf/json.h"

namespace {

using porthole::tuf::CanonicalJson;
using porthole::tuf::ErrorOr;
using porthole::tuf::Json;

void Check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);

  if (porthole::IsValidUtf8(input)) {
    ErrorOr<std::string> nfc = porthole::tuf::NormalizeNfc(input);
    Check(nfc.ok());
    ErrorOr<std::string> again = porthole::tuf::NormalizeNfc(*nfc);
    Check(again.ok() && *again == *nfc);
  }

  ErrorOr<Json> json = porthole::tuf::ParseJson(input);
  if (!json.ok()) return 0;
  ErrorOr<std::string> canonical = CanonicalJson(*json);
  if (!canonical.ok()) return 0;
  Check(CanonicalJson(*json).value() == *canonical);

  ErrorOr<std::string> dumped = porthole::tuf::DumpJson(*json);
  Check(dumped.ok());
  ErrorOr<Json> reparsed = porthole::tuf::ParseJson(*dumped);
  Check(reparsed.ok());
  ErrorOr<std::string> canonical2 = CanonicalJson(*reparsed);
  Check(canonical2.ok() && *canonical2 == *canonical);

  ErrorOr<Json> self = porthole::tuf::ParseJson(*canonical);
  if (self.ok()) {
    ErrorOr<std::string> fixed = CanonicalJson(*self);
    Check(fixed.ok() && *fixed == *canonical);
  }
  return 0;
}
