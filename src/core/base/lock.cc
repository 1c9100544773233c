#include "core/base/lock.h"

#include <fcntl.h>
#include <sys/file.h>

#include <cerrno>

namespace porthole {

Result<FileLock> FileLock::Exclusive(const std::string& path, Wait wait,
                                     bool create) {
  int flags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW | (create ? O_CREAT : 0);
  UniqueFd fd(open(path.c_str(), flags, 0600));
  if (!fd.valid()) return PosixError(path + ": lock", errno);
  int op = LOCK_EX | (wait == Wait::kNoWait ? LOCK_NB : 0);
  while (flock(fd.get(), op) != 0) {
    if (errno == EINTR) continue;
    if (errno == EWOULDBLOCK) {
      return Status::Unavailable(path + ": locked by another process");
    }
    return PosixError(path + ": lock", errno);
  }
  return FileLock(path, std::move(fd));
}

}  // namespace porthole
