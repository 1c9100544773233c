#include "core/base/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <random>

#include "core/base/unique_fd.h"

namespace porthole {

std::string DirName(const std::string& path) {
  auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string BaseName(const std::string& path) {
  auto slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

bool PathExists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

Result<std::string> ReadFile(const std::string& path, size_t max_bytes,
                             bool follow_symlinks) {
  int flags = O_RDONLY | O_CLOEXEC | (follow_symlinks ? 0 : O_NOFOLLOW);
  UniqueFd fd(open(path.c_str(), flags));
  if (!fd.valid()) {
    if (errno == ELOOP) {
      return Status::PermissionDenied(path +
                                      ": is a symbolic link; refusing it");
    }
    return PosixError(path, errno);
  }
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return PosixError(path, errno);
  if (!S_ISREG(st.st_mode)) {
    return Status::IoError(path + ": not a regular file");
  }
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    return Status::Corrupt(path + ": larger than " +
                           std::to_string(max_bytes) + " bytes");
  }
  std::string data;
  data.reserve(static_cast<size_t>(st.st_size));
  char buf[65536];
  for (;;) {
    ssize_t n = read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return PosixError(path, errno);
    }
    if (n == 0) break;
    if (data.size() + static_cast<size_t>(n) > max_bytes) {
      return Status::Corrupt(path + ": larger than " +
                             std::to_string(max_bytes) + " bytes");
    }
    data.append(buf, static_cast<size_t>(n));
  }
  return data;
}

namespace {

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

Status SyncDir(const std::string& dir) {
  UniqueFd fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return PosixError(dir, errno);
  if (fsync(fd.get()) != 0) return PosixError(dir, errno);
  return Status::Ok();
}

std::string RandomSuffix() {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  static const char kChars[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string s(8, 'x');
  for (char& c : s) c = kChars[rng() % (sizeof kChars - 1)];
  return s;
}

}  // namespace

Status AtomicReplace(const std::string& path, std::string_view contents,
                     const ReplaceOptions& options) {
  const std::string dir = DirName(path);
  struct stat old;
  bool exists = lstat(path.c_str(), &old) == 0;
  if (!exists && errno != ENOENT) return PosixError(path, errno);
  if (exists && S_ISLNK(old.st_mode)) {
    return Status::PermissionDenied(path + ": is a symbolic link; refusing it");
  }
  if (exists && !S_ISREG(old.st_mode)) {
    return Status::IoError(path + ": not a regular file");
  }

  mode_t mode = exists ? (old.st_mode & 07777) : options.mode_if_new;
  std::optional<FileOwner> owner;
  if (exists) {
    owner = FileOwner{old.st_uid, old.st_gid};
  } else if (options.owner_if_new) {
    owner = options.owner_if_new;
  } else if (geteuid() == 0) {
    struct stat dst;
    if (stat(dir.c_str(), &dst) != 0) return PosixError(dir, errno);
    owner = FileOwner{dst.st_uid, dst.st_gid};
  }

  std::string tmp;
  UniqueFd fd;
  for (int attempt = 0; attempt < 100 && !fd.valid(); ++attempt) {
    tmp = dir + "/." + BaseName(path) + ".tmp-" + RandomSuffix();
    fd.reset(open(tmp.c_str(),
                  O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd.valid() && errno != EEXIST) return PosixError(path, errno);
  }
  if (!fd.valid()) return Status::IoError(path + ": no temporary file name");

  auto fail = [&](Status s) {
    fd.reset();
    unlink(tmp.c_str());
    return s;
  };
  if (Status s = WriteAll(fd.get(), contents, path); !s.ok()) return fail(s);
  if (owner && fchown(fd.get(), owner->uid, owner->gid) != 0) {
    // Only root may give a file away; anyone else keeps their own.
    if (geteuid() == 0 || owner->uid != geteuid()) {
      return fail(PosixError(path + ": chown", errno));
    }
  }
  if (fchmod(fd.get(), mode) != 0) return fail(PosixError(path, errno));
  if (fsync(fd.get()) != 0) return fail(PosixError(path, errno));
  if (close(fd.release()) != 0) return fail(PosixError(path, errno));
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    return fail(PosixError(path, errno));
  }
  // The rename is done; a failing directory fsync is reported but the new
  // contents are in place.
  return SyncDir(dir).Prefixed(path + ": synced, but");
}

Status MakeDirs(const std::string& path, mode_t mode) {
  if (path.empty()) return Status::InvalidArgument("empty directory path");
  struct stat st;
  if (stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return Status::Ok();
    return Status::IoError(path + ": exists and is not a directory");
  }
  std::string parent = DirName(path);
  if (parent != path && parent != "." && parent != "/") {
    PH_RETURN_IF_ERROR(MakeDirs(parent, mode));
  }
  if (mkdir(path.c_str(), mode) != 0 && errno != EEXIST) {
    return PosixError(path, errno);
  }
  return Status::Ok();
}

}  // namespace porthole
