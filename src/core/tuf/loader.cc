#include "core/tuf/loader.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

#include "core/base/file.h"
#include "core/base/lock.h"
#include "core/tuf/json.h"
#include "core/tuf/rfc3339.h"
#include "core/tuf/verifier.h"

namespace porthole::tuf {
namespace {

constexpr mode_t kStateDirMode = 0700;
constexpr mode_t kStateFileMode = 0644;
constexpr size_t kMaxTimeFileBytes = 4096;

Error StateError(const Status& s) {
  return Error(ErrorCode::kStateError, s.message());
}

// The body of a fetch result, or the error that the result is.
ErrorOr<std::string> BodyOf(FetchResult r, const std::string& name,
                            size_t max_bytes) {
  switch (r.kind) {
    case FetchResult::Kind::kFound:
      if (r.body.size() > max_bytes) break;
      return std::move(r.body);
    case FetchResult::Kind::kNotFound:
      return Error(ErrorCode::kNotFound, name + ": not found on the server");
    case FetchResult::Kind::kTooLarge:
      break;
    case FetchResult::Kind::kError:
      return Error(ErrorCode::kFetchFailed,
                   name + ": fetch failed: " + r.reason);
  }
  return Error(ErrorCode::kTooLarge,
               name + ": larger than " + std::to_string(max_bytes) + " bytes");
}

}  // namespace

FetchResult DirectoryFetcher::Fetch(const std::string& name, size_t max_bytes) {
  if (name.empty() || name.find('/') != std::string::npos || name[0] == '.') {
    return FetchResult::Failed("bad metadata name '" + Excerpt(name) + "'");
  }
  Result<std::string> body =
      ReadFile(dir_ + "/" + name, max_bytes, /*follow_symlinks=*/true);
  if (body.ok()) return FetchResult::Found(std::move(*body));
  switch (body.status().code()) {
    case StatusCode::kNotFound:
      return FetchResult::NotFound();
    case StatusCode::kCorrupt:  // ReadFile's "larger than"
      return FetchResult::TooLarge();
    default:
      return FetchResult::Failed(body.status().message());
  }
}

MetadataLoader::MetadataLoader(std::string state_dir, MetadataFetcher* fetcher,
                               const Clock* clock)
    : MetadataLoader(std::move(state_dir), fetcher, clock, Options()) {}

MetadataLoader::MetadataLoader(std::string state_dir, MetadataFetcher* fetcher,
                               const Clock* clock, Options options)
    : state_dir_(std::move(state_dir)),
      fetcher_(fetcher),
      clock_(clock),
      options_(options) {}

std::string MetadataLoader::Path(const std::string& file) const {
  return state_dir_ + "/" + file;
}

ErrorOr<VerifiedMetadata> MetadataLoader::Load() {
  std::lock_guard<std::mutex> lock(mu_);
  return LoadLocked(/*remote_sessions=*/true);
}

ErrorOr<Root> MetadataLoader::LoadRoot() {
  std::lock_guard<std::mutex> lock(mu_);
  TUF_ASSIGN_OR_RETURN(VerifiedMetadata m,
                       LoadLocked(/*remote_sessions=*/false));
  return std::move(m.root);
}

ErrorOr<VerifiedMetadata> MetadataLoader::LoadLocked(bool remote_sessions) {
  Status made = MakeDirs(state_dir_, kStateDirMode);
  if (!made.ok()) return StateError(made);
  Result<FileLock> dir_lock =
      FileLock::Exclusive(state_dir_, FileLock::Wait::kBlock);
  if (!dir_lock.ok()) return StateError(dir_lock.status());

  TUF_ASSIGN_OR_RETURN(Root trusted, TrustedRoot());
  TUF_ASSIGN_OR_RETURN(Root root, Rotate(std::move(trusted)));
  TUF_ASSIGN_OR_RETURN(SystemTime now, GuardedNow());
  TUF_RETURN_IF_ERROR(
      CheckExpiry("root.json (version " + std::to_string(root.version) + ")",
                  root.expires_text, root.expires, now));

  VerifiedMetadata out{std::move(root), RemoteSessions()};
  if (!remote_sessions) return out;

  if (out.root.FindRole(kRemoteSessionsRole) == nullptr) {
    return Error(ErrorCode::kMissingRole, std::string(kRemoteSessionsNotSet));
  }
  FetchResult fetched =
      fetcher_->Fetch(kRemoteSessionsFile, options_.max_document_bytes);
  TUF_ASSIGN_OR_RETURN(std::string body,
                       BodyOf(std::move(fetched), kRemoteSessionsFile,
                              options_.max_document_bytes));
  TUF_ASSIGN_OR_RETURN(std::optional<StoredDocument> stored,
                       StoredRemoteSessions());
  std::optional<uint64_t> floor;
  if (stored) floor = stored->version;
  TUF_ASSIGN_OR_RETURN(
      out.remote_sessions,
      VerifyRemoteSessions(out.root, body, now, floor, kRemoteSessionsFile));
  if (!stored || stored->bytes != body) {
    TUF_RETURN_IF_ERROR(Save(kRemoteSessionsFile, body));
  }
  return out;
}

ErrorOr<Root> MetadataLoader::TrustedRoot() {
  Result<std::string> stored =
      ReadFile(Path(kRootFile), options_.max_document_bytes);
  if (stored.ok()) return VerifyTrustedRoot(*stored, "stored root.json");
  if (stored.status().code() != StatusCode::kNotFound) {
    return StateError(stored.status());
  }
  // Trust on first use, but only a root that verifies against itself, and
  // saved only once it has (RAC saved whatever came back, PROTOCOL 9 #8).
  FetchResult fetched = fetcher_->Fetch(kRootFile, options_.max_document_bytes);
  TUF_ASSIGN_OR_RETURN(std::string body, BodyOf(std::move(fetched), kRootFile,
                                                options_.max_document_bytes));
  TUF_ASSIGN_OR_RETURN(Root root, VerifyTrustedRoot(body, kRootFile));
  TUF_RETURN_IF_ERROR(Save(kRootFile, body));
  spdlog::info("trusting root.json version {} on first use", root.version);
  return root;
}

ErrorOr<Root> MetadataLoader::Rotate(Root trusted) {
  for (int step = 0;; ++step) {
    if (trusted.version == UINT64_MAX) return trusted;  // nothing can follow
    const std::string name = std::to_string(trusted.version + 1) + ".root.json";
    FetchResult fetched = fetcher_->Fetch(name, options_.max_document_bytes);
    // 404/424 is "no newer root"; every other failure fails the load, so a
    // network attacker cannot freeze rotation (PROTOCOL 9 #10).
    if (fetched.kind == FetchResult::Kind::kNotFound) return trusted;
    if (step >= options_.max_root_rotations) {
      return Error(ErrorCode::kTooManyRotations,
                   "more than " + std::to_string(options_.max_root_rotations) +
                       " root rotations in one load (at version " +
                       std::to_string(trusted.version) + ")");
    }
    TUF_ASSIGN_OR_RETURN(std::string body, BodyOf(std::move(fetched), name,
                                                  options_.max_document_bytes));
    TUF_ASSIGN_OR_RETURN(Root next, VerifyRootUpdate(trusted, body, name));
    if (next.version == trusted.version) return trusted;  // tough: stop

    const RoleKeys* old_role = trusted.FindRole(kRemoteSessionsRole);
    const RoleKeys* new_role = next.FindRole(kRemoteSessionsRole);
    if (old_role != nullptr &&
        (new_role == nullptr || !old_role->SameKeysAs(*new_role))) {
      // Before the root is saved: a crash in between only repeats this.
      if (unlink(Path(kRemoteSessionsFile).c_str()) != 0 && errno != ENOENT) {
        return StateError(PosixError(Path(kRemoteSessionsFile), errno));
      }
      spdlog::info(
          "remote-sessions keys changed in root version {}: "
          "rollback floor reset",
          next.version);
    }
    TUF_RETURN_IF_ERROR(Save(kRootFile, body));
    spdlog::info("rotated to root.json version {}", next.version);
    trusted = std::move(next);
  }
}

ErrorOr<SystemTime> MetadataLoader::GuardedNow() {
  const SystemTime system = clock_->Now();
  std::optional<SystemTime> latest;
  Result<std::string> stored =
      ReadFile(Path(kLatestKnownTimeFile), kMaxTimeFileBytes);
  if (stored.ok()) {
    ErrorOr<Json> json = ParseJson(*stored);
    Result<SystemTime> t = Status::Corrupt("not a JSON string");
    if (json.ok() && json->is_string()) {
      t = ParseRfc3339(json->get_ref<const std::string&>());
    }
    if (t.ok()) {
      latest = *t;
    } else {
      // As tough: an unreadable time is ignored (and rewritten below).
      spdlog::warn("{}: ignored: {}", Path(kLatestKnownTimeFile),
                   t.status().message());
    }
  } else if (stored.status().code() != StatusCode::kNotFound) {
    return StateError(stored.status());
  }
  if (latest && *latest >= system) {
    if (*latest > system) {
      spdlog::debug("system clock {} is behind the latest known time {}",
                    FormatRfc3339(system), FormatRfc3339(*latest));
    }
    return *latest;
  }
  TUF_RETURN_IF_ERROR(
      Save(kLatestKnownTimeFile, "\"" + FormatRfc3339Nanos(system) + "\""));
  return system;
}

ErrorOr<std::optional<MetadataLoader::StoredDocument>>
MetadataLoader::StoredRemoteSessions() {
  const std::string path = Path(kRemoteSessionsFile);
  Result<std::string> bytes = ReadFile(path, options_.max_document_bytes);
  if (!bytes.ok()) {
    if (bytes.status().code() == StatusCode::kNotFound) {
      return std::optional<StoredDocument>();
    }
    return StateError(bytes.status());
  }
  // Our own file (or RAC's compact copy), written only after verification:
  // its version is the floor. A file that does not parse is refused rather
  // than ignored, which would drop the rollback protection.
  ErrorOr<SignedDocument> doc = ParseSignedDocument(*bytes, path);
  ErrorOr<uint64_t> version =
      doc.ok() ? RequireUint(doc->signed_value, "version", 1, path)
               : ErrorOr<uint64_t>(doc.error());
  if (!version.ok()) {
    return Error(ErrorCode::kStateError,
                 "stored " + version.error().message() +
                     " (remove the file to accept any version again)");
  }
  return std::optional<StoredDocument>(
      StoredDocument{std::move(*bytes), *version});
}

Error MetadataLoader::Save(const std::string& file, std::string_view bytes) {
  Status s =
      AtomicReplace(Path(file), bytes, ReplaceOptions::NewMode(kStateFileMode));
  return s.ok() ? Error::None() : StateError(s);
}

}  // namespace porthole::tuf
