// Fuzzes the relay's table backend document (server/relay/table_backend.h)
// and the UUID normaliser the relay applies to SSH user names: whatever the
// input, parsing returns a table or one error line, and a parsed table's
// answers are consistent with what it holds.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "server/relay/relay.h"
#include "server/relay/table_backend.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace porthole::server::relay;  // NOLINT: a fuzz harness
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::string uuid;
  if (NormalizeUuid(text, &uuid)) {
    std::string again;
    if (!NormalizeUuid(uuid, &again) || again != uuid) std::abort();
  }
  porthole::Result<Table> t = ParseTable(text, "fuzz.json");
  if (!t.ok()) {
    if (t.status().message().rfind("fuzz.json", 0) != 0) std::abort();
    return 0;
  }
  TableBackend backend(porthole::Clock::Real(), nullptr);
  backend.Replace(*t);
  for (const TableDevice& d : t->devices) {
    if (backend.ResolveDevice(d.name) != d.id) std::abort();
    if (backend.DeviceKey(d.id) != d.key) std::abort();
  }
  for (const TableSession& s : t->sessions) {
    for (const auto& k : s.operator_keys) {
      backend.LiveSessionsForOperatorKey(k);
    }
    backend.LiveSessionOfDevice(s.device);
  }
  return 0;
}
