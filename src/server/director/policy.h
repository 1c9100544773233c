// The editable remote-sessions policy: what the director signs into the next
// remote-sessions.json (PROTOCOL.md 6.5, 6.6). It is kept as JSON in the
// store (setting "director.policy") and edited by `porthole-server policy
// ...` and the operator API:
//
//   {"authorized_keys": [{"pubkey": "ssh-ed25519 AAAA... alice", "name":
//   "alice"}],
//    "ra_server_hosts": ["relay.example.com"],
//    "ra_server_ssh_pubkeys": ["ssh-ed25519 AAAA... relay"],
//    "allowed_commands": {"echo": ["test"], "reboot": []}}
//
// `allowed_commands` absent means the document carries no remote_commands
// (every command is then rejected by devices). Keys are compared by key
// material: allowing a key already present replaces its line and name.
//
// Thread safety: plain data.
#ifndef PORTHOLE_SERVER_DIRECTOR_POLICY_H_
#define PORTHOLE_SERVER_DIRECTOR_POLICY_H_

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/status.h"
#include "core/tuf/remote_sessions.h"
#include "core/tuf/signer.h"

namespace porthole::server::director {

struct PolicyKey {
  std::string line;  // "TYPE BASE64 [comment]" as given
  std::string name;  // "" when none
};

struct Policy {
  std::vector<PolicyKey> authorized_keys;
  std::vector<std::string> relay_hosts;
  std::vector<std::string> relay_keys;  // key lines
  std::optional<std::map<std::string, std::vector<std::string>>> commands;

  // Adds `line` (a plain public key line: no options, no certificate) or
  // replaces the entry with the same key material. kInvalidArgument naming
  // the problem for a bad line or name (names: printable, no quotes, at most
  // 64 bytes).
  Status AllowKey(std::string_view line, std::string_view name);
  // Removes the key given as a key line, a "SHA256:..." fingerprint or a
  // name. kNotFound if nothing matches; kInvalidArgument if a name matches
  // more than one key.
  Status DenyKey(std::string_view key_fingerprint_or_name);
  // `name` must be one of RAC's commands (reboot, restart-service, echo);
  // its allowed args are replaced by `args`.
  Status AllowCommand(std::string_view name,
                      const std::vector<std::string>& args);
  // kNotFound if the command was not allowed. Removing the last one keeps
  // an empty allowed_commands (devices then reject every command).
  Status DenyCommand(std::string_view name);
  Status AllowRelayHost(std::string_view host);
  Status DenyRelayHost(std::string_view host);
  Status AllowRelayKey(std::string_view line);
  Status DenyRelayKey(std::string_view line_or_fingerprint);

  // The signing input for version `version` expiring at `expires`.
  tuf::RemoteSessionsSpec ToSpec(uint64_t version, SystemTime expires) const;
};

// Strict JSON form (unknown members, wrong types, bad key lines are
// kInvalidArgument naming `where` and the member).
Result<Policy> ParsePolicy(std::string_view json, std::string_view where);
std::string FormatPolicy(const Policy& policy);  // indented JSON + newline

// The policy that a signed remote-sessions document expresses (names from
// "meta"), so that an imported document becomes the new draft.
Result<Policy> PolicyFromMetadata(const tuf::RemoteSessions& metadata);

}  // namespace porthole::server::director

#endif  // PORTHOLE_SERVER_DIRECTOR_POLICY_H_
