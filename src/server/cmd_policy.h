// `porthole-server policy ...` and `porthole-server root ...`: the signed
// policy (director/director.h) from the server's own shell. They open the
// store the configuration names and work while the server runs: the daemon
// notices the new documents through Store::ChangeStamp() and wakes the
// devices' long polls.
//
//   policy show [--json]                the served document and the draft
//   policy allow-key KEY [--name NAME]  KEY: a public key line or a file
//                                       holding one (e.g. id_ed25519.pub)
//   policy deny-key KEY|SHA256:FP|NAME
//   policy allow-command NAME [ARGS...] NAME: reboot, restart-service, echo
//   policy deny-command NAME
//   policy allow-relay-host HOST        policy deny-relay-host HOST
//   policy allow-relay-key KEY          policy deny-relay-key KEY|SHA256:FP
//   policy publish                      sign the draft as the next version
//   policy export [-o FILE]             the unsigned next version
//   policy import FILE|-                verify a signed document and serve it
//   root show [--json]                  the latest root: version, roles, keys
//   root rotate [--new-root-key] [--remote-sessions-key FILE |
//                                 --new-remote-sessions-key]
//
// Every edit changes the draft and, while the remote-sessions key is online
// (the embedded default), signs and serves it as the next version at once.
// With the key offline (`root rotate --remote-sessions-key FILE`, FILE being
// the public half `porthole policy keygen` writes) the edit only changes the
// draft and says so: export it, sign it on the operator's machine
// (`porthole policy sign --key KEY`) and import it.
//
// Exit codes: 0 done (an offline edit too: the draft changed, the message
// says it is not served), 1 refused or failed (nothing matched; an imported
// document whose signatures, type, version or expiry fail the checks the
// devices make; keys offline for publish/rotate), 2 usage or malformed
// input (a bad key line, an unknown command name, a file that is not
// signed metadata). Every change is an audit event (actor "admin").
#ifndef PORTHOLE_SERVER_CMD_POLICY_H_
#define PORTHOLE_SERVER_CMD_POLICY_H_

#include <string>

#include <nlohmann/json.hpp>

#include "core/base/status.h"
#include "server/cli_common.h"
#include "server/director/director.h"

namespace porthole::server {

// KEY as the commands take it: when `arg` names an existing file, its first
// non-empty line that is not a comment (at most 64 KiB; kInvalidArgument
// naming the file if there is none); otherwise `arg` itself.
Result<std::string> ReadKeyArgument(const std::string& arg);

// What `policy show` prints, as text for people and as JSON (the same
// object the operator API's GET /api/v1/policy gives).
std::string FormatPolicyState(const director::DirectorState& state);
nlohmann::json PolicyStateJson(const director::DirectorState& state);

CommandAction SetupPolicy(CLI::App* sub, const GlobalOptions* global);
CommandAction SetupRoot(CLI::App* sub, const GlobalOptions* global);

}  // namespace porthole::server

#endif  // PORTHOLE_SERVER_CMD_POLICY_H_
