// Root metadata (PROTOCOL.md 6.4) and the signature threshold check of 6.11.
//
//   {"_type": "Root", "consistent_snapshot": false, "version": 3,
//    "expires": "2034-02-08T15:38:17Z",
//    "keys": {"<keyid>": <key, see key.h>, ...},
//    "roles": {"root": {"keyids": ["<keyid>", ...], "threshold": 1},
//              "remote-sessions": {...}, "<any other role>": {...}}}
//
// Parsing is strict where tough is: `_type` must be "Root"; every keyid is
// recomputed from its key and must match; keyids that are equal ignoring
// case are duplicates; an unknown keytype fails the whole root. Unknown role
// names are kept (they are validated like the others) and otherwise ignored;
// other members (spec_version, ...) only take part in the signed bytes.
#ifndef PORTHOLE_CORE_TUF_ROOT_H_
#define PORTHOLE_CORE_TUF_ROOT_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/clock.h"
#include "core/tuf/error.h"
#include "core/tuf/key.h"
#include "core/tuf/signed_document.h"

namespace porthole::tuf {

inline constexpr std::string_view kRootRole = "root";
inline constexpr std::string_view kRemoteSessionsRole = "remote-sessions";

struct RoleKeys {
  std::vector<std::string> keyids;  // lower-case hex, in document order
  uint64_t threshold = 1;           // >= 1

  // Same set of keyids (order and repeats ignored) and same threshold.
  bool SameKeysAs(const RoleKeys& o) const;
};

struct Root {
  uint64_t version = 0;  // >= 1
  SystemTime expires;
  std::string expires_text;               // as written
  std::map<std::string, Key> keys;        // by keyid
  std::map<std::string, RoleKeys> roles;  // by role name

  // The role, or nullptr.
  const RoleKeys* FindRole(std::string_view name) const;
};

// Parses the `signed` part of `doc` as a root. Errors (messages start with
// doc.name): kWrongType, kMalformed, kBadKeyId, kUnsupportedKey.
ErrorOr<Root> ParseRoot(const SignedDocument& doc);

// Counts the valid signatures of `doc` for role `role` of `root` as tough
// does: a signature counts only if its keyid is listed for the role, the key
// is in root.keys and the signature verifies over doc.canonical; a keyid
// counts once however often it signs; unknown keyids and bad signatures are
// skipped. Fails with kMissingRole ("<doc>: role <role> not set in
// root.json") or kThresholdNotMet ("<doc>: signature threshold of 1 not met
// for role remote-sessions (0 valid signatures)").
Error VerifyRole(const SignedDocument& doc, const Root& root,
                 std::string_view role);

}  // namespace porthole::tuf

#endif  // PORTHOLE_CORE_TUF_ROOT_H_
