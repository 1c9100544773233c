// The relay-only SSH keys `porthole connect` makes, one per session.
//
// Why a key of its own: libssh's relay cannot check a FIDO key's user
// presence, so the relay refuses sk- keys. The operator's own key (sk-
// included) authenticates end to end at the device; the hop to the relay
// uses a fresh ed25519 key that the server lets in for that one session
// only (relay_keys) and never sends to the device.
//
// Where and how long: `porthole connect` execs ssh, so nothing of porthole
// is left running to delete the key when ssh ends. The key therefore lives
// as long as its session, in a private directory, and is reused by every
// connect to the same session (the server caps relay keys per session):
//
//   DIR/                        0700 (~/.cache/porthole/relay)
//   DIR/<session-id>/           0700
//     id_ed25519                0600, the private key (OpenSSH format)
//     known_hosts               0600, the relay's pinned host key
//     expires                   the session's expires_at (RFC 3339)
//
// It is removed when porthole closes the session (`session close`,
// `connect --close`), when porthole learns the session has ended, and by
// Sweep() at the start of every later porthole command once `expires` has
// passed (the relay refuses it from then on anyway). A directory without a
// readable `expires` is removed by Sweep() too; keys still being made
// (".new-*") are removed after an hour.
//
// Not safe against two porthole processes making a key for the same
// session at the same moment: both keys work (both are added), the later
// directory wins.
#ifndef PORTHOLE_CLI_RELAY_KEY_STORE_H_
#define PORTHOLE_CLI_RELAY_KEY_STORE_H_

#include <optional>
#include <string>

#include "core/base/clock.h"
#include "core/base/status.h"
#include "core/keys/public_key.h"

namespace porthole::cli {

// Session ids usable as directory names: [A-Za-z0-9._:-]{1,128}, not
// starting with '.'.
bool SessionIdIsSafe(const std::string& id);

class RelayKeyStore {
 public:
  explicit RelayKeyStore(std::string dir) : dir_(std::move(dir)) {}

  struct Entry {
    std::string dir;
    std::string key_file;
    std::string known_hosts;
    std::string public_line;  // "ssh-ed25519 AAAA... porthole-relay"
    keys::PublicKey key;
  };

  // The key stored for `session_id`, if any (a damaged one is removed and
  // reported as absent).
  Result<std::optional<Entry>> Find(const std::string& session_id) const;

  // A new key in a temporary directory, for a session not opened yet.
  Result<Entry> CreatePending() const;
  // Moves a pending key to `session_id` (replacing an older one there) and
  // records `expires`.
  Result<Entry> Adopt(const Entry& pending, const std::string& session_id,
                      SystemTime expires) const;
  // CreatePending() + Adopt().
  Result<Entry> Create(const std::string& session_id, SystemTime expires) const;

  // Removes a session's directory (missing is fine).
  Status Remove(const std::string& session_id) const;
  Status RemoveDir(const std::string& dir) const;

  // Removes the directories of sessions that expired before `now`, those
  // without a readable `expires`, and pending ones older than an hour.
  // Returns how many were removed; errors are skipped.
  int Sweep(SystemTime now) const;

  const std::string& dir() const { return dir_; }

 private:
  Result<Entry> Load(const std::string& session_dir) const;
  std::string dir_;
};

}  // namespace porthole::cli

#endif  // PORTHOLE_CLI_RELAY_KEY_STORE_H_
