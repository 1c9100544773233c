// Remote-Sessions role metadata (PROTOCOL.md 6.5, 6.6) and the two policies
// it carries.
//
//   {"_type": "Remote-Sessions", "version": 87,
//    "expires": "2034-03-12T15:48:31Z",
//    "remote_sessions": {"ssh": {
//        "authorized_keys": {"<any id>": {"pubkey": "ssh-ed25519 AAAA...",
//                                         "meta": {...}}, ...},
//        "ra_server_hosts": ["ras.example.com", ...],
//        "ra_server_ssh_pubkeys": ["ssh-ed25519 AAAA...", ...], ...}, ...},
//    "remote_commands": {"allowed_commands": {"echo": {"args": ["test"]}},
//                        ...}}
//
// Unlike tough, `_type` must be "Remote-Sessions": with only role keys
// deciding, a root (or any other role's document) signed by a key that the
// remote-sessions role shares would otherwise pass as one (PROTOCOL 9 #32).
#ifndef PORTHOLE_CORE_TUF_REMOTE_SESSIONS_H_
#define PORTHOLE_CORE_TUF_REMOTE_SESSIONS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/clock.h"
#include "core/keys/public_key.h"
#include "core/tuf/error.h"
#include "core/tuf/json.h"
#include "core/tuf/signed_document.h"

namespace porthole::tuf {

inline constexpr std::string_view kRemoteSessionsType = "Remote-Sessions";

struct RemoteSessions {
  uint64_t version = 0;  // >= 1
  SystemTime expires;
  std::string expires_text;
  Json remote_sessions;                 // any JSON value (tough's rule)
  std::optional<Json> remote_commands;  // absent or null: nullopt
};

// Parses the `signed` part of `doc`. Errors (messages start with doc.name):
// kWrongType for a missing or other `_type`, kMalformed for a missing
// `remote_sessions`, a bad `version` (integer >= 1) or `expires`.
ErrorOr<RemoteSessions> ParseRemoteSessions(const SignedDocument& doc);

// remote_sessions.ssh, as RAC reads it.
struct SshPolicy {
  struct AuthorizedKey {
    std::string id;    // the member name (the blob's SHA-256 hex, or "0"...)
    std::string line;  // the pubkey string as written
    keys::PublicKey key;
  };
  struct ServerKey {
    std::string line;
    keys::PublicKey key;
  };
  std::vector<AuthorizedKey> authorized_keys;
  std::vector<std::string> ra_server_hosts;
  std::vector<ServerKey> ra_server_ssh_pubkeys;
};

// Requires remote_sessions.ssh with authorized_keys (an object of objects
// with a string `pubkey`), ra_server_hosts and ra_server_ssh_pubkeys
// (arrays of strings); other members are ignored. Every key must parse as an
// OpenSSH public key line. Errors are kMalformed naming the member.
ErrorOr<SshPolicy> ParseSshPolicy(const RemoteSessions& metadata);

// The command names RAC knows; others in allowed_commands are ignored.
inline constexpr std::string_view kKnownCommands[] = {
    "reboot", "restart-service", "echo"};
// RAC's reason when a command arrives and the metadata has no commands.
inline constexpr std::string_view kNoRemoteCommands =
    "no remote_commands in remote-sessions";

struct CommandPolicy {
  // Known command name -> the arguments it may be given.
  std::map<std::string, std::vector<std::string>> allowed;

  // RAC's rule: `name` is allowed and every element of `args` is in its
  // list (set membership: order and repeats are not checked).
  bool Allows(std::string_view name,
              const std::vector<std::string>& args) const;
};

// remote_commands: nullopt when absent or null. Otherwise it must be an
// object with an object `allowed_commands`; entries of known names must be
// {"args": [strings...]}; entries of unknown names and other members are
// ignored (PROTOCOL 13 #5,6). Errors are kMalformed.
ErrorOr<std::optional<CommandPolicy>> ParseCommandPolicy(
    const RemoteSessions& metadata);

}  // namespace porthole::tuf

#endif  // PORTHOLE_CORE_TUF_REMOTE_SESSIONS_H_
