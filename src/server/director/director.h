// The director: the signed metadata porthole-server serves to devices
// (PROTOCOL.md 6). It keeps
//   - the root versions ("root" role documents 1..N; devices trust the first
//     one they fetch and follow verified rotations),
//   - the remote-sessions versions, each signed from the editable policy
//     draft (policy.h),
// in the store, and the private keys it holds online as tuf::Signer key
// files "<keyid>.json" (0600) in its key directory (0700).
//
// Online and offline: in the embedded default every key is online, so each
// policy edit is signed and served at once, and documents are renewed
// before they expire (RenewIfDue). When the remote-sessions role's keys are
// offline (root rotate to a public key made by `porthole policy keygen`),
// edits only change the draft: Export() gives the unsigned next version,
// the operator signs it on their machine (`porthole policy sign`), and
// Import() verifies it against the current root before serving it. So a
// compromised server cannot authorise a key on its own.
//
// Every document is verified with the same code the agent uses
// (core/tuf/verifier.h) before it is stored: nothing that a device would
// refuse is ever served.
//
// Thread safety: all methods may be called concurrently (one mutex), also
// from several processes on one store (a clash on a version number fails
// with kAlreadyExists; try again).
#ifndef PORTHOLE_SERVER_DIRECTOR_DIRECTOR_H_
#define PORTHOLE_SERVER_DIRECTOR_DIRECTOR_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/clock.h"
#include "core/base/status.h"
#include "core/tuf/remote_sessions.h"
#include "core/tuf/root.h"
#include "core/tuf/signer.h"
#include "server/director/policy.h"
#include "server/store/store.h"

namespace porthole::server::director {

inline constexpr char kRootRole[] = "root";
inline constexpr char kRemoteSessionsRole[] = "remote-sessions";
inline constexpr char kPolicySetting[] = "director.policy";

struct DirectorOptions {
  std::chrono::seconds remote_sessions_expiry{30 * 24 * 3600};
  std::chrono::seconds remote_sessions_renew_before{7 * 24 * 3600};
  std::chrono::seconds root_expiry{365 * 24 * 3600};
  std::chrono::seconds root_renew_before{30 * 24 * 3600};
};

struct DirectorState {
  uint64_t root_version = 0;
  SystemTime root_expires;
  bool root_keys_online = false;         // enough root keys here to sign a root
  uint64_t remote_sessions_version = 0;  // 0: none published yet
  SystemTime remote_sessions_expires;
  bool remote_sessions_keys_online = false;
  bool draft_published = false;  // the draft equals the latest document
  Policy draft;
  Policy published;
};

// The latest remote-sessions document, parsed, for the server's own checks
// (operator keys of a session, commands).
struct PublishedPolicy {
  uint64_t version = 0;
  SystemTime expires;
  tuf::SshPolicy ssh;
  std::optional<tuf::CommandPolicy> commands;
};

struct RotateOptions {
  bool new_root_key = false;  // a fresh online root key replaces the old
  // The remote-sessions role gets exactly this public key (a root `keys`
  // entry as `porthole policy keygen` writes it): the role goes offline.
  std::optional<std::string> remote_sessions_public_key;
  bool new_remote_sessions_key = false;  // a fresh online key instead
};

class Director {
 public:
  // `store` and `clock` must outlive the object.
  Director(Store* store, std::string key_dir, const Clock* clock,
           DirectorOptions options);

  // First start: online ed25519 root and remote-sessions keys, root v1, a
  // draft allowing `relay_host` and `relay_key_line`, remote-sessions v1.
  // kAlreadyExists if a root exists.
  Status Initialize(const std::string& relay_host,
                    const std::string& relay_key_line);

  Result<DirectorState> State();
  Result<PublishedPolicy> Published();

  // Edits the draft and, when the remote-sessions keys are online, signs
  // and serves it as the next version (returned; 0 when offline: the draft
  // changed only). A failed edit changes nothing.
  Result<uint64_t> Edit(const std::function<Status(Policy&)>& edit);
  // Signs the draft as the next version (online keys only, else
  // kFailedPrecondition saying how to sign offline).
  Result<uint64_t> Publish();
  // The unsigned next version: {"signatures": [], "signed": {...}}.
  Result<std::string> Export();
  // Verifies a signed remote-sessions document against the current root
  // (threshold, _type, version above the latest, not expired) and serves
  // it; the draft becomes its content. Errors name the failed check.
  Result<uint64_t> Import(std::string_view text);
  // Re-signs (with a new version) a root or remote-sessions document that
  // expires within its renew window, when its keys are online. Returns one
  // line per renewal; a document whose keys are offline and that is due
  // gives a warning line starting with "warning:".
  Result<std::vector<std::string>> RenewIfDue();
  // A new root version signed by the current root keys and the new ones.
  Result<uint64_t> RotateRoot(const RotateOptions& options);

  // Key files: "<keyid>.json" in the key directory.
  std::string KeyPath(const std::string& keyid) const;

 private:
  Result<tuf::Root> LatestRoot();
  Result<std::vector<tuf::Signer>> OnlineSigners(const tuf::Root& root,
                                                 std::string_view role);
  Result<Policy> LoadDraft();
  Status SaveDraft(const Policy& policy);
  Result<uint64_t> PublishLocked(const Policy& policy);
  Result<tuf::Signer> NewKey();
  Result<uint64_t> StoreRoot(const tuf::Root& old_root,
                             const tuf::RootSpec& spec,
                             const std::vector<const tuf::Signer*>& signers);

  Store* const store_;
  const std::string key_dir_;
  const Clock* const clock_;
  const DirectorOptions options_;
  std::mutex mu_;
};

}  // namespace porthole::server::director

#endif  // PORTHOLE_SERVER_DIRECTOR_DIRECTOR_H_
