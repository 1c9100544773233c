// The verifying metadata loader: RAC's UptaneRepository::load (PROTOCOL.md
// 6.1, 6.3) with porthole's fixes (13 rows 7-10, 31).
//
// Load() runs, every time it is called:
//  1. Trusted root: <state>/root.json, which must verify against its own root
//     role. If there is none, trust on first use: fetch "root.json", verify
//     it against itself, and only then save it (atomically).
//  2. Rotation: fetch "<N+1>.root.json" while the server has one (404/424
//     end the walk). Each must meet the old and its own root threshold and
//     carry version N+1 (N stops the walk, as in tough; anything else is
//     refused). After each verified step <state>/root.json is replaced, so
//     the walk starts there next time. Any other fetch failure fails the
//     load (fail closed). At most Options::max_root_rotations steps per load.
//  3. "Now" is max(system clock, <state>/latest_known_time.json), and the
//     file moves forward with the clock: a clock stepped backwards neither
//     halts validation (tough does) nor lets expired metadata back in.
//  4. The final root must not be expired.
//  5. If rotation changed the remote-sessions role's keys or threshold, the
//     stored remote-sessions.json is dropped (TUF's fast-forward recovery: a
//     version pushed up with a since-replaced key must not block the new
//     one).
//  6. Remote-sessions: the root must have the role (else kMissingRole with
//     exactly "remote-sessions not set in root.json"); "remote-sessions.json"
//     is fetched and verified (verifier.h) with the version of the stored
//     <state>/remote-sessions.json as the rollback floor, and then stored.
//
// Every fetched body is capped at Options::max_document_bytes (1 MiB).
// Every state file is written with AtomicReplace (mode 0644 in a 0700
// directory, created if missing); a write failure fails the load
// (kStateError) because the protection depends on the state.
//
// Thread safety: Load() calls on one loader are serialised by a mutex, and
// loaders of different processes by an flock on the state directory. The
// fetcher is only called from inside Load().
#ifndef PORTHOLE_CORE_TUF_LOADER_H_
#define PORTHOLE_CORE_TUF_LOADER_H_

#include <cstddef>
#include <mutex>
#include <optional>
#include <string>

#include "core/base/clock.h"
#include "core/tuf/error.h"
#include "core/tuf/remote_sessions.h"
#include "core/tuf/root.h"
#include "core/tuf/signed_document.h"

namespace porthole::tuf {

struct FetchResult {
  enum class Kind {
    kFound,     // `body` holds the document
    kNotFound,  // HTTP 404 or 424 Failed Dependency: "no such document"
    kTooLarge,  // the body is over the cap (the fetcher stopped reading)
    kError,     // anything else: transport error, other HTTP status
  };
  Kind kind = Kind::kError;
  std::string body;    // kFound
  std::string reason;  // kError: e.g. "HTTP 500", "connection refused"

  static FetchResult Found(std::string body) {
    return {Kind::kFound, std::move(body), {}};
  }
  static FetchResult NotFound() { return {Kind::kNotFound, {}, {}}; }
  static FetchResult TooLarge() { return {Kind::kTooLarge, {}, {}}; }
  static FetchResult Failed(std::string reason) {
    return {Kind::kError, {}, std::move(reason)};
  }
};

// Where metadata comes from: the agent plugs in its HTTP client (the
// director base URL + name), tests a map, check-policy nothing.
class MetadataFetcher {
 public:
  virtual ~MetadataFetcher() = default;
  // Fetches "root.json", "<N>.root.json" or "remote-sessions.json". A body
  // longer than `max_bytes` may be cut short and reported as kTooLarge; the
  // loader also checks the size of kFound bodies.
  virtual FetchResult Fetch(const std::string& name, size_t max_bytes) = 0;
};

// Serves files from a local directory (RAC's file transport): a missing file
// is kNotFound, other read errors kError.
class DirectoryFetcher : public MetadataFetcher {
 public:
  explicit DirectoryFetcher(std::string dir) : dir_(std::move(dir)) {}
  FetchResult Fetch(const std::string& name, size_t max_bytes) override;

 private:
  std::string dir_;
};

struct VerifiedMetadata {
  Root root;
  RemoteSessions remote_sessions;
};

class MetadataLoader {
 public:
  struct Options {
    size_t max_document_bytes = kMaxMetadataBytes;
    int max_root_rotations = 1024;
  };

  // State files live in `state_dir` (RAC's local_tuf_repo_path; RAC's
  // root.json and latest_known_time.json there are read as they are).
  // `fetcher` and `clock` must outlive the loader.
  MetadataLoader(std::string state_dir, MetadataFetcher* fetcher,
                 const Clock* clock);
  MetadataLoader(std::string state_dir, MetadataFetcher* fetcher,
                 const Clock* clock, Options options);

  // Steps 1-6. On success the verified root and remote-sessions.
  ErrorOr<VerifiedMetadata> Load();
  // Steps 1-4 only: the verified, unexpired root.
  ErrorOr<Root> LoadRoot();

  // State file names inside the state directory.
  static constexpr char kRootFile[] = "root.json";
  static constexpr char kRemoteSessionsFile[] = "remote-sessions.json";
  static constexpr char kLatestKnownTimeFile[] = "latest_known_time.json";

 private:
  ErrorOr<VerifiedMetadata> LoadLocked(bool remote_sessions);
  ErrorOr<Root> TrustedRoot();
  ErrorOr<Root> Rotate(Root trusted);
  ErrorOr<SystemTime> GuardedNow();
  ErrorOr<std::string> FetchBody(const std::string& name);
  struct StoredDocument {
    std::string bytes;
    uint64_t version;
  };
  ErrorOr<std::optional<StoredDocument>> StoredRemoteSessions();
  Error Save(const std::string& file, std::string_view bytes);
  std::string Path(const std::string& file) const;

  const std::string state_dir_;
  MetadataFetcher* const fetcher_;
  const Clock* const clock_;
  const Options options_;
  std::mutex mu_;  // serialises Load()/LoadRoot()
};

}  // namespace porthole::tuf

#endif  // PORTHOLE_CORE_TUF_LOADER_H_
