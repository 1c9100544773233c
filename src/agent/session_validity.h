// Deciding whether a session the server hands out may be used, and whether
// an active one must end (PROTOCOL.md 4.5 with porthole's fixes, 13 rows 11,
// 15, 16): pure functions, no I/O.
//
// A session is "planned" once: its keys and relay key parsed, its relay URL
// split. Re-validation compares the active plan with a freshly fetched
// session; any difference that matters ends the session:
//   kKeysChanged         the set of operator key material differs (comments
//                        and order do not matter; RAC compared full strings
//                        and counts, so a comment edit cut the session)
//   kReversePortChanged  reverse_port differs
//   kUrlChanged          relay user, host (case-insensitive) or port differs
//   kRelayKeyChanged     the relay key material differs
#ifndef PORTHOLE_AGENT_SESSION_VALIDITY_H_
#define PORTHOLE_AGENT_SESSION_VALIDITY_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/clock.h"
#include "core/base/status.h"
#include "core/keys/public_key.h"
#include "core/tuf/session_check.h"

namespace porthole::agent {

struct SessionPlan {
  tuf::DeviceSession session;           // as fetched
  std::vector<keys::PublicKey> operator_keys;  // distinct, in order
  keys::PublicKey relay_key;
  std::string relay_user;  // sent as the SSH user name
  std::string relay_host;  // without IPv6 brackets
  uint16_t relay_port = 22;
};

// Parses what the tunnel needs. The user of ra_server_url is the device
// UUID for a RAC server (normalised to lower-case hyphenated, as RAC sends
// it); porthole also accepts a plain login name ([A-Za-z0-9._-], at most 64
// bytes, not starting with '-') so that a stock OpenSSH sshd can play the
// relay. Errors (kInvalidArgument) name the field: "ra_server_url: ...",
// "authorized_pubkeys[1]: ...", "ra_server_ssh_pubkey: ...".
Result<SessionPlan> PlanSession(const tuf::DeviceSession& session);

enum class Change {
  kNone,
  kKeysChanged,
  kReversePortChanged,
  kUrlChanged,
  kRelayKeyChanged,
};
// "keys changed", "reverse port changed", ... ("unchanged" for kNone).
std::string_view ChangeName(Change change);

// The first difference between the active plan and a fresh session, in
// RAC's order (keys, port, URL, relay key). A fresh session that does not
// parse counts as changed keys or URL, whichever field is bad.
Change CompareSession(const SessionPlan& active,
                      const tuf::DeviceSession& fresh);

// True when `now` is at or after the session's expires_at.
inline bool Expired(const tuf::DeviceSession& s, SystemTime now) {
  return now >= s.expires_at;
}

}  // namespace porthole::agent

#endif  // PORTHOLE_AGENT_SESSION_VALIDITY_H_
