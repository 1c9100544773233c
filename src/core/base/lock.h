// Advisory locks (flock(2)) held for the lifetime of a FileLock.
//
// Files that are replaced atomically cannot be locked themselves (the rename
// swaps the inode), so writers lock the directory that holds them: every
// read-modify-replace of a file in that directory runs under the lock.
#ifndef PORTHOLE_CORE_BASE_LOCK_H_
#define PORTHOLE_CORE_BASE_LOCK_H_

#include <string>

#include "core/base/status.h"
#include "core/base/unique_fd.h"

namespace porthole {

class FileLock {
 public:
  enum class Wait { kBlock, kNoWait };

  // Locks `path` (a file or a directory) exclusively. With kNoWait a lock held
  // elsewhere is kUnavailable. `create` makes a missing regular file.
  static Result<FileLock> Exclusive(const std::string& path, Wait wait,
                                    bool create = false);

  FileLock(FileLock&&) = default;
  FileLock& operator=(FileLock&&) = default;
  ~FileLock() = default;  // closing the descriptor releases the lock

  const std::string& path() const { return path_; }
  int fd() const { return fd_.get(); }

 private:
  FileLock(std::string path, UniqueFd fd)
      : path_(std::move(path)), fd_(std::move(fd)) {}
  std::string path_;
  UniqueFd fd_;
};

}  // namespace porthole

#endif  // PORTHOLE_CORE_BASE_LOCK_H_
