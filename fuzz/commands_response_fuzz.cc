// Fuzzes what the command poll reads from the network and from disk: the
// GET commands body, the RAS 400 error body and the pending-result record
// (ours or RAC's), with the invariants the runner relies on.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "agent/command.h"
#include "core/tuf/rfc3339.h"

namespace {

using namespace porthole::agent;  // NOLINT: a fuzz harness

void Check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);

  auto received = ParseCommandsResponse(input);
  if (received.ok() && received->has_value()) {
    const ReceivedCommand& rc = **received;
    // Ids go into URLs and file names: only the canonical form gets out.
    auto id = ParseCommandId(rc.id);
    Check(id.ok() && *id == rc.id && rc.id.size() == 56);
    Check(rc.command.has_value() == rc.defect.empty());
    if (rc.command) Check(rc.command->id == rc.id);
    // Whatever the server sent, the rejection is valid JSON-ready text.
    std::string body = FormatCommandResult(
        RejectedResult({rc.defect, rc.command ? rc.command->name : ""},
                       porthole::SystemTime()));
    Check(!body.empty() && body.front() == '{' && body.back() == '}');
  }

  (void)ParseRasError(input);

  auto record = ParsePendingRecord(input);
  if (record.ok()) {
    // What we write back must read back the same (RAC's records are
    // rewritten by us when a POST fails). Timestamps outside years
    // 0000-9999 cannot be written in RFC 3339 at all.
    std::string text = FormatPendingRecord(*record);
    if (porthole::tuf::ParseRfc3339(FormatTimestamp(record->output.finished_at))
            .ok()) {
      auto again = ParsePendingRecord(text);
      Check(again.ok() && *again == *record);
      Check(FormatPendingRecord(*again) == text);
    }
  }

  std::string capped = CapOutput(input, size % 2 == 1);
  Check(capped.size() <= kMaxOutputBytes);
  Check(LossyUtf8(capped) == capped);
  return 0;
}
