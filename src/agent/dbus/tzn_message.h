// What one io.torizon.TznService1.TznMessageSig(command, args_json) asks of
// the agent (PROTOCOL.md 7.1). RAC builds {"command": command, "args":
// <args_json parsed>} and accepts exactly one variant, PollRasNow with any
// JSON value as args (null and {} included); porthole decides the same.
//
// args_json is checked with core/tuf's strict JSON parser, so two inputs RAC
// would take are refused: an object that repeats a member name and nesting
// deeper than 64. tzn-mqtt forwards re-serialised JSON, which has neither.
// Pure functions; thread-safe.
#ifndef PORTHOLE_AGENT_DBUS_TZN_MESSAGE_H_
#define PORTHOLE_AGENT_DBUS_TZN_MESSAGE_H_

#include <string_view>

#include "core/base/status.h"

namespace porthole::agent {

inline constexpr std::string_view kPollRasNow = "PollRasNow";

// OK when the message is PollRasNow with JSON args: poll now. Otherwise
// kInvalidArgument with the reason to log, e.g.
//   "unknown command 'Reboot' (only PollRasNow is acted on)"
//   "PollRasNow args are not JSON: syntax error while parsing ..."
// Text from the message is quoted through tuf::Excerpt (first line, at
// most 80 bytes, non-printable bytes as '?').
Status CheckTznMessage(std::string_view command, std::string_view args_json);

}  // namespace porthole::agent

#endif  // PORTHOLE_AGENT_DBUS_TZN_MESSAGE_H_
