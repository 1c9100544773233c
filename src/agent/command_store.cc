#include "agent/command_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>

#include "agent/command.h"
#include "core/base/file.h"

namespace porthole::agent {
namespace {

constexpr std::string_view kSuffix = ".cmd";
// Temporary files: ".<record file name>.tmp.XXXXXX". They never end in
// ".cmd", so neither porthole nor RAC takes them for records.
constexpr std::string_view kTempInfix = ".cmd.tmp.";

bool IsTemporary(std::string_view name) {
  return !name.empty() && name.front() == '.' &&
         name.find(kTempInfix) != std::string_view::npos;
}

Status SyncDir(const std::string& dir) {
  UniqueFd fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return PosixError(dir, errno);
  if (fsync(fd.get()) != 0) return PosixError(dir + ": fsync", errno);
  return Status::Ok();
}

Status WriteAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return PosixError(path, errno);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

// A new, locked, 0600 temporary file next to `path` holding `contents`,
// fsynced. Removed again if anything fails.
struct TempFile {
  std::string path;
  UniqueFd fd;
};
Result<TempFile> MakeLockedTemp(const std::string& dir,
                                const std::string& record_path,
                                std::string_view contents) {
  std::string tmpl = dir + "/." + BaseName(record_path) + ".tmp.XXXXXX";
  UniqueFd fd(mkostemp(tmpl.data(), O_CLOEXEC));
  if (!fd.valid()) return PosixError(tmpl, errno);
  auto fail = [&](Status s) -> Result<TempFile> {
    unlink(tmpl.c_str());
    return s;
  };
  // A fresh inode nobody else knows yet: the lock cannot be contended.
  if (flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    return fail(PosixError(tmpl + ": lock", errno));
  }
  Status s = WriteAll(fd.get(), contents, tmpl);
  if (!s.ok()) return fail(s);
  if (fsync(fd.get()) != 0) return fail(PosixError(tmpl + ": fsync", errno));
  return TempFile{std::move(tmpl), std::move(fd)};
}

// Whether `fd` is still the file named `path` (not replaced or removed).
Result<bool> SameFile(int fd, const std::string& path) {
  struct stat held, named;
  if (fstat(fd, &held) != 0) return PosixError(path, errno);
  if (lstat(path.c_str(), &named) != 0) {
    if (errno == ENOENT) return false;
    return PosixError(path, errno);
  }
  return held.st_dev == named.st_dev && held.st_ino == named.st_ino;
}

}  // namespace

CommandStore::CommandStore(std::string dir) : dir_(std::move(dir)) {}

Result<std::vector<CommandStore::Entry>> CommandStore::List() const {
  std::vector<Entry> entries;
  std::unique_ptr<DIR, int (*)(DIR*)> d(opendir(dir_.c_str()), closedir);
  if (d == nullptr) {
    if (errno == ENOENT) return entries;
    return PosixError(dir_, errno);
  }
  for (;;) {
    errno = 0;
    dirent* e = readdir(d.get());
    if (e == nullptr) {
      if (errno != 0) return PosixError(dir_, errno);
      break;
    }
    std::string_view name = e->d_name;
    if (name.size() <= kSuffix.size() ||
        name.substr(name.size() - kSuffix.size()) != kSuffix) {
      continue;
    }
    Result<std::string> id =
        ParseCommandId(name.substr(0, name.size() - kSuffix.size()));
    if (!id.ok()) continue;
    std::string path = dir_ + "/" + std::string(name);
    struct stat st;
    if (lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    entries.push_back({std::move(*id), std::move(path)});
  }
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.path < b.path; });
  return entries;
}

Result<bool> CommandStore::Has(std::string_view id) const {
  PH_ASSIGN_OR_RETURN(std::vector<Entry> entries, List());
  return std::any_of(entries.begin(), entries.end(),
                     [&](const Entry& e) { return e.id == id; });
}

Result<CommandStore::Record> CommandStore::Create(const std::string& id) {
  PH_RETURN_IF_ERROR(MakeDirs(dir_, 0700));
  const std::string path = dir_ + "/" + id + std::string(kSuffix);
  PH_ASSIGN_OR_RETURN(TempFile temp, MakeLockedTemp(dir_, path, ""));
  // link(2), unlike rename(2), never replaces an existing record.
  int linked = link(temp.path.c_str(), path.c_str());
  int link_errno = errno;
  unlink(temp.path.c_str());
  if (linked != 0) {
    if (link_errno == EEXIST) {
      return Status::AlreadyExists(path + ": a record for this command exists");
    }
    return PosixError(path, link_errno);
  }
  Status synced = SyncDir(dir_);
  if (!synced.ok()) {
    unlink(path.c_str());
    return synced;
  }
  return Record(dir_, id, path, std::move(temp.fd));
}

Result<CommandStore::Record> CommandStore::Lock(const Entry& entry) const {
  // A holder may replace the file between our open() and flock(); then the
  // descriptor is a dead inode and the name must be opened again.
  for (int attempt = 0; attempt < 8; ++attempt) {
    UniqueFd fd(open(entry.path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd.valid()) return PosixError(entry.path, errno);
    struct stat st;
    if (fstat(fd.get(), &st) != 0) return PosixError(entry.path, errno);
    if (!S_ISREG(st.st_mode)) {
      return Status::IoError(entry.path + ": not a regular file");
    }
    while (flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
      if (errno == EINTR) continue;
      if (errno == EWOULDBLOCK) {
        return Status::Unavailable(entry.path + ": locked by another process");
      }
      return PosixError(entry.path + ": lock", errno);
    }
    PH_ASSIGN_OR_RETURN(bool same, SameFile(fd.get(), entry.path));
    if (same) return Record(dir_, entry.id, entry.path, std::move(fd));
    if (!PathExists(entry.path)) {
      return Status::NotFound(entry.path + ": removed meanwhile");
    }
  }
  return Status::Unavailable(entry.path + ": keeps being replaced");
}

void CommandStore::RemoveStaleTemporaries() const {
  std::unique_ptr<DIR, int (*)(DIR*)> d(opendir(dir_.c_str()), closedir);
  if (d == nullptr) return;
  std::vector<std::string> stale;
  while (dirent* e = readdir(d.get())) {
    if (!IsTemporary(e->d_name)) continue;
    std::string path = dir_ + "/" + e->d_name;
    UniqueFd fd(open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd.valid()) continue;
    // A writer holds its temporary file locked until it is renamed.
    if (flock(fd.get(), LOCK_EX | LOCK_NB) == 0) stale.push_back(path);
  }
  for (const std::string& path : stale) unlink(path.c_str());
}

Result<std::string> CommandStore::Record::Read() const {
  struct stat st;
  if (fstat(fd_.get(), &st) != 0) return PosixError(path_, errno);
  if (static_cast<uint64_t>(st.st_size) > kMaxRecordBytes) {
    return Status::Corrupt(path_ + ": larger than " +
                           std::to_string(kMaxRecordBytes) + " bytes");
  }
  std::string data(static_cast<size_t>(st.st_size), '\0');
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = pread(fd_.get(), data.data() + done, data.size() - done,
                      static_cast<off_t>(done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return PosixError(path_, errno);
    }
    if (n == 0) break;  // shrank meanwhile (only RAC rewrites in place)
    done += static_cast<size_t>(n);
  }
  data.resize(done);
  return data;
}

Status CommandStore::Record::Replace(std::string_view contents) {
  if (!fd_.valid()) return Status::Internal(path_ + ": record already removed");
  PH_ASSIGN_OR_RETURN(TempFile temp, MakeLockedTemp(dir_, path_, contents));
  if (rename(temp.path.c_str(), path_.c_str()) != 0) {
    Status s = PosixError(path_, errno);
    unlink(temp.path.c_str());
    return s;
  }
  // From here the new contents are in place (and locked by us); only their
  // durability is in question.
  fd_ = std::move(temp.fd);
  return SyncDir(dir_);
}

Status CommandStore::Record::Remove() {
  if (!fd_.valid()) return Status::Internal(path_ + ": record already removed");
  Status s;
  if (unlink(path_.c_str()) != 0 && errno != ENOENT) {
    s = PosixError(path_, errno);
  }
  fd_.reset();
  return s;
}

}  // namespace porthole::agent
