// Fuzzes what the operator CLI reads from porthole-server: every operator
// API resource parser (src/cli/api_types.h) and the tables and detail views
// made from them, which must never let a control character through.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "cli/api_types.h"
#include "cli/format.h"
#include "cli/table.h"
#include "core/tuf/json.h"

namespace {

using namespace porthole::cli;  // NOLINT: a fuzz harness

// Output for people: printable, newlines only between lines.
void CheckPrintable(const std::string& text) {
  for (unsigned char c : text) {
    if ((c < 0x20 && c != '\n') || c == 0x7f) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  CheckPrintable(Printable(input));
  auto json = porthole::tuf::ParseJson(input);
  if (!json.ok()) return 0;
  const porthole::SystemTime now{};
  (void)ParseApiError(*json);
  (void)ParseRelay(*json);
  if (auto d = ParseDevice(*json); d.ok()) {
    CheckPrintable(DeviceDetails(*d, now));
  }
  if (auto s = ParseSession(*json); s.ok()) {
    CheckPrintable(SessionDetails(*s, now));
  }
  if (auto c = ParseCommand(*json); c.ok()) {
    CheckPrintable(CommandDetails(*c, now));
  }
  if (auto e = ParseAuditEvent(*json); e.ok()) CheckPrintable(AuditLine(*e));
  if (auto p = ParsePolicyStatus(*json); p.ok()) CheckPrintable(PolicyText(*p));
  if (auto l = ParseDeviceList(*json); l.ok()) {
    CheckPrintable(DevicesTable(*l, now, true));
  }
  if (auto l = ParseSessionList(*json); l.ok()) {
    CheckPrintable(SessionsTable(*l, now));
  }
  if (auto l = ParseCommandList(*json); l.ok()) {
    CheckPrintable(CommandsTable(*l, now));
  }
  if (auto l = ParseAuditList(*json); l.ok()) CheckPrintable(AuditTable(*l));
  return 0;
}
