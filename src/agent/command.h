// Remote commands on the wire (PROTOCOL.md 3.3 C and D, 5.1) and RAC's
// pending-result record (5.6): strict parsing and byte-exact formatting.
//
//   GET  {url}commands             ParseCommandsResponse(body)
//   POST {url}commands/<id>/result FormatCommandResult(result)
//        400 body                  ParseRasError(body)
//   <commands_dir>/<id>.cmd        FormatPendingRecord / ParsePendingRecord
//
// Output is what RAC's serde_json writes, byte for byte: members in RAC's
// struct order, objects inside `error` with sorted keys (serde_json's
// default map), serde's string escapes, `finished_at` as chrono prints it.
// So a stock RAC server reads our results, and a stock RAC adopts the
// pending records we leave behind, as we adopt its own.
//
// Everything here is a pure function of its arguments: thread-compatible.
#ifndef PORTHOLE_AGENT_COMMAND_H_
#define PORTHOLE_AGENT_COMMAND_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/clock.h"
#include "core/base/status.h"
#include "core/tuf/json.h"

namespace porthole::agent {

inline constexpr std::string_view kCommandIdPrefix = "urn:tdx-ota:command:";

// "urn:tdx-ota:command:<uuid>" (the prefix exactly, the UUID in any form
// config::ParseUuid reads) -> the canonical id, lower-case hyphenated, as
// RAC prints it back. kInvalidArgument otherwise.
Result<std::string> ParseCommandId(std::string_view text);

struct Command {
  std::string id;    // canonical
  std::string name;  // as sent: "reboot", "restart-service", "echo" or other
  std::vector<std::string> args;
  SystemTime created_at;
};

// values[0] of a GET commands body.
struct ReceivedCommand {
  std::string id;  // canonical
  // The command when it is well-formed (its name may still be unknown:
  // validation rejects it). Unset when a member other than `id` is missing
  // or mistyped; `defect` then says which, and the command is rejected by
  // id instead of blocking every later one (porthole's choice, as for
  // unknown names, PROTOCOL.md 13 row 5).
  std::optional<Command> command;
  std::string defect;
};

// Parses a GET commands body, {"values": [Command, ...]} (other members are
// ignored, as serde does). Only values[0] is examined: it is the only one
// acted on in a poll, and the others become values[0] in later polls, so
// one bad entry cannot block the rest. nullopt when `values` is empty.
// Errors (kCorrupt, "GET commands: ..."): not JSON, no `values` array, or a
// values[0] that is not an object with a valid `id`: without an id there is
// nothing to reject, so the poll fails and the server is asked again later.
Result<std::optional<ReceivedCommand>> ParseCommandsResponse(
    std::string_view body);

// The result of a command (3.3 D).
struct CommandResult {
  bool success = false;
  // Raw bytes are fine: FormatCommandResult() writes them as lossy UTF-8.
  std::string stdout_text;
  std::string stderr_text;
  tuf::Json error;                   // null: none
  std::optional<int32_t> exit_code;  // nullopt: killed by a signal, never ran
  SystemTime finished_at;

  friend bool operator==(const CommandResult&, const CommandResult&) = default;
};

// RAC's texts.
inline constexpr std::string_view kInvalidCommandMessage =
    "invalid command received from server";
inline constexpr std::string_view kNoOutputAvailable =
    "a lock file for the command exists, but no output is available";

// A command the metadata does not allow: success false, empty output,
// exit_code null, error
//   {"message": "invalid command received from server",
//    "validation_result": {"InvalidUptaneMetadata": [reasons...]}}
CommandResult RejectedResult(const std::vector<std::string>& reasons,
                             SystemTime now);

// The result of a command that left a record but no result (the agent died
// while it ran): stdout and stderr "unknown", error the string
// kNoOutputAvailable, exit_code null (5.6).
CommandResult UnknownOutcomeResult(SystemTime now);

// A failed execution (timeout, spawn failure, missing argument), which RAC
// never reports (9 row 3): success false, error the string `reason`.
CommandResult ExecutionErrorResult(std::string_view reason, SystemTime now);

// The POST body, compact:
// {"success":true,"stdout":"test","stderr":"","error":null,"exit_code":0,
//  "finished_at":"2025-07-30T16:00:03.123456789Z"}
std::string FormatCommandResult(const CommandResult& result);

// UTC with "Z" and 0, 3, 6 or 9 fraction digits, the fewest that are exact
// (chrono's AutoSi).
std::string FormatTimestamp(SystemTime time);

// RAC's pending-result record (5.6).
struct PendingRecord {
  std::string id;  // canonical
  CommandResult output;
  std::optional<std::string> error;  // why the result is not delivered yet

  friend bool operator==(const PendingRecord&, const PendingRecord&) = default;
};

// serde_json's pretty form (two-space indent, no final newline):
// {
//   "cmd_id": "urn:tdx-ota:command:...",
//   "output": {
//     "success": true,
//     ...
//   },
//   "error": "..."
// }
std::string FormatPendingRecord(const PendingRecord& record);

// Reads what RAC's serde reads: `cmd_id` (a command id), `output` (all of
// success, stdout, stderr, finished_at; error and exit_code may be missing
// for null; exit_code a 32-bit integer) and `error` (a string, null or
// missing). Unknown members are ignored, duplicates refused. Errors are
// kCorrupt naming the member.
Result<PendingRecord> ParsePendingRecord(std::string_view text);

// The RAS error body of a 400: {"code": "...", "description": "..."}, both
// strings required, other members ignored. nullopt for anything else.
struct RasError {
  std::string code;
  std::string description;
};
std::optional<RasError> ParseRasError(std::string_view body);
inline constexpr std::string_view kCommandNotFound = "command_not_found";

// Captured output, as it goes into a result.
inline constexpr size_t kMaxOutputBytes = 819200;  // per stream, with marker
inline constexpr std::string_view kTruncationMarker = "[...]";

// Rust's String::from_utf8_lossy: each maximal invalid subsequence becomes
// U+FFFD.
std::string LossyUtf8(std::string_view bytes);

// LossyUtf8(bytes), and when that is longer than kMaxOutputBytes or `more`
// says bytes were dropped, cut on a character boundary to at most
// kMaxOutputBytes - 5 bytes and kTruncationMarker appended: never more than
// kMaxOutputBytes in all (RAC bugs 1, 2; PROTOCOL.md 13 rows 1, 2).
std::string CapOutput(std::string_view bytes, bool more);

// Drops trailing whitespace as Rust's char::is_whitespace defines it (RAC
// trims echo's stdout so). `text` must be valid UTF-8.
std::string TrimEndWhitespace(std::string text);

}  // namespace porthole::agent

#endif  // PORTHOLE_AGENT_COMMAND_H_
