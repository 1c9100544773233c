// porthole-agent check-policy: verifies signed remote-sessions metadata
// offline, against a given root, and optionally a session against it.
//
//   porthole-agent check-policy --root FILE --metadata FILE [--session FILE]
//                               [--at TIME]
//
//   --root FILE      a root.json; it must verify against its own root role
//                    and not be expired
//   --metadata FILE  a remote-sessions.json; it must meet the root's
//                    remote-sessions threshold, have _type Remote-Sessions
//                    and not be expired
//   --session FILE   a GET sessions body (RAC's DeviceSession JSON); every
//                    operator key, the relay host and the relay host key
//                    must be allowed by the metadata, and it must not be
//                    expired
//   --at TIME        check as of TIME (RFC 3339) instead of now
//
// No network, no state directory: no rotation and no rollback check.
// Exit 0 when everything is valid (a summary on stdout); 1 with the named
// reason(s) on stderr ("check-policy: Failed to verify remote-sessions
// metadata: ... [threshold-not-met]", "check-policy: session not allowed:
// ..."); 2 for a usage error.
#ifndef PORTHOLE_AGENT_CMD_CHECK_POLICY_H_
#define PORTHOLE_AGENT_CMD_CHECK_POLICY_H_

#include <string>
#include <vector>

#include "core/base/clock.h"

namespace porthole::agent {

// The command: `args` are the words after "check-policy".
int RunCheckPolicy(const std::vector<std::string>& args);

// The work without the process: output to `out`, diagnostics (each line
// ending in a newline) to `err`; "now" is `clock`'s unless --at is given.
// Returns the exit code.
int CheckPolicy(const std::vector<std::string>& args, const Clock& clock,
                std::string* out, std::string* err);

}  // namespace porthole::agent

#endif  // PORTHOLE_AGENT_CMD_CHECK_POLICY_H_
