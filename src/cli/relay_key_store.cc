#include "cli/relay_key_store.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <vector>

#include "core/base/file.h"
#include "core/ssh/device_key.h"
#include "core/tuf/rfc3339.h"

namespace porthole::cli {
namespace {

constexpr char kKeyName[] = "id_ed25519";
constexpr char kKnownHosts[] = "known_hosts";
constexpr char kExpires[] = "expires";
constexpr char kPendingPrefix[] = ".new-";
constexpr auto kPendingMaxAge = std::chrono::hours(1);

// DIR itself: created 0700 if missing; an existing one must be ours and
// private (it holds keys).
Status EnsurePrivateDir(const std::string& dir) {
  PH_RETURN_IF_ERROR(MakeDirs(dir, 0700));
  struct stat st;
  if (lstat(dir.c_str(), &st) != 0) return PosixError(dir, errno);
  if (!S_ISDIR(st.st_mode)) {
    return Status::PermissionDenied(dir + ": not a directory; refusing it");
  }
  if (st.st_uid != geteuid()) {
    return Status::PermissionDenied(dir + ": not owned by you; refusing it");
  }
  if ((st.st_mode & 077) != 0 && chmod(dir.c_str(), 0700) != 0) {
    return PosixError(dir, errno);
  }
  return Status::Ok();
}

}  // namespace

bool SessionIdIsSafe(const std::string& id) {
  if (id.empty() || id.size() > 128 || id[0] == '.') return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == ':' ||
              c == '-';
    if (!ok) return false;
  }
  return true;
}

Result<RelayKeyStore::Entry> RelayKeyStore::Load(
    const std::string& session_dir) const {
  Entry e;
  e.dir = session_dir;
  e.key_file = session_dir + "/" + kKeyName;
  e.known_hosts = session_dir + "/" + kKnownHosts;
  PH_ASSIGN_OR_RETURN(ssh::PrivateKey key, ssh::PrivateKey::Load(e.key_file));
  e.public_line = key.PublicKeyLine();
  e.key = key.public_key();
  return e;
}

Result<std::optional<RelayKeyStore::Entry>> RelayKeyStore::Find(
    const std::string& session_id) const {
  if (!SessionIdIsSafe(session_id)) return std::optional<Entry>();
  std::string d = dir_ + "/" + session_id;
  if (!PathExists(d)) return std::optional<Entry>();
  auto e = Load(d);
  if (!e.ok()) {
    (void)RemoveDir(d);
    return std::optional<Entry>();
  }
  return std::optional<Entry>(std::move(*e));
}

Result<RelayKeyStore::Entry> RelayKeyStore::CreatePending() const {
  PH_RETURN_IF_ERROR(EnsurePrivateDir(dir_));
  std::string tmpl = dir_ + "/" + kPendingPrefix + "XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) return PosixError(dir_, errno);
  auto key = ssh::PrivateKey::GenerateEd25519("porthole-relay");
  if (!key.ok()) {
    (void)RemoveDir(tmpl);
    return key.status();
  }
  Entry e;
  e.dir = tmpl;
  e.key_file = tmpl + "/" + kKeyName;
  e.known_hosts = tmpl + "/" + kKnownHosts;
  e.public_line = key->PublicKeyLine();
  e.key = key->public_key();
  Status s = AtomicReplace(e.key_file, key->file_text(),
                           ReplaceOptions::NewMode(0600));
  if (!s.ok()) {
    (void)RemoveDir(tmpl);
    return s;
  }
  return e;
}

Result<RelayKeyStore::Entry> RelayKeyStore::Adopt(const Entry& pending,
                                                  const std::string& session_id,
                                                  SystemTime expires) const {
  if (!SessionIdIsSafe(session_id)) {
    return Status::InvalidArgument("session id '" + session_id.substr(0, 80) +
                                   "' from the server is not a safe file "
                                   "name");
  }
  PH_RETURN_IF_ERROR(AtomicReplace(pending.dir + "/" + kExpires,
                                   tuf::FormatRfc3339(expires) + "\n",
                                   ReplaceOptions::NewMode(0600)));
  std::string target = dir_ + "/" + session_id;
  if (PathExists(target)) PH_RETURN_IF_ERROR(RemoveDir(target));
  if (rename(pending.dir.c_str(), target.c_str()) != 0) {
    return PosixError(target, errno);
  }
  return Load(target);
}

Result<RelayKeyStore::Entry> RelayKeyStore::Create(
    const std::string& session_id, SystemTime expires) const {
  PH_ASSIGN_OR_RETURN(Entry pending, CreatePending());
  auto e = Adopt(pending, session_id, expires);
  if (!e.ok()) (void)RemoveDir(pending.dir);
  return e;
}

Status RelayKeyStore::RemoveDir(const std::string& dir) const {
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  if (ec) return Status::IoError(dir + ": " + ec.message());
  return Status::Ok();
}

Status RelayKeyStore::Remove(const std::string& session_id) const {
  if (!SessionIdIsSafe(session_id)) return Status::Ok();
  return RemoveDir(dir_ + "/" + session_id);
}

int RelayKeyStore::Sweep(SystemTime now) const {
  std::vector<std::string> names;
  if (DIR* d = opendir(dir_.c_str())) {
    while (struct dirent* e = readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != "..") names.push_back(n);
    }
    closedir(d);
  }
  int removed = 0;
  for (const auto& n : names) {
    std::string d = dir_ + "/" + n;
    struct stat st;
    if (lstat(d.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;
    bool stale = false;
    if (n.starts_with(kPendingPrefix)) {
      auto mtime = std::chrono::system_clock::from_time_t(st.st_mtime);
      stale = now - mtime > kPendingMaxAge;
    } else {
      auto text = ReadFile(d + "/" + kExpires, 256);
      std::string t = text.ok() ? *text : "";
      while (!t.empty() && t.back() == '\n') t.pop_back();
      auto expires = tuf::ParseRfc3339(t);
      stale = !expires.ok() || *expires <= now;
    }
    if (stale && RemoveDir(d).ok()) ++removed;
  }
  return removed;
}

}  // namespace porthole::cli
