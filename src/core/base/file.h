// Reading and atomically replacing files.
//
// AtomicReplace follows openssh's hostfile_replace_entries() and leveldb's
// env_posix.cc: the new contents go to a temporary file in the same directory
// (created O_EXCL|O_NOFOLLOW, never through a symlink), which is fsynced,
// given the old file's owner, group and mode, renamed over the target, and the
// directory is fsynced. On any failure the temporary file is removed and the
// target is left exactly as it was; the Status names the target path.
#ifndef PORTHOLE_CORE_BASE_FILE_H_
#define PORTHOLE_CORE_BASE_FILE_H_

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

#include "core/base/status.h"

namespace porthole {

// Reads a whole regular file. Refuses symlinks (the final component) when
// `follow_symlinks` is false, and files larger than `max_bytes` (kCorrupt).
// A missing file is kNotFound.
Result<std::string> ReadFile(const std::string& path, size_t max_bytes,
                             bool follow_symlinks = false);

struct FileOwner {
  uid_t uid;
  gid_t gid;
};

struct ReplaceOptions {
  // Mode for a file that does not exist yet. An existing file keeps its mode.
  mode_t mode_if_new = 0644;
  // Owner for a new file. Unset: the owner and group of the directory when
  // running as root (so a file created in a user's ~/.ssh belongs to that
  // user), else the caller's. An existing file keeps its owner and group.
  std::optional<FileOwner> owner_if_new;

  static ReplaceOptions NewMode(mode_t mode) {
    ReplaceOptions o;
    o.mode_if_new = mode;
    return o;
  }
};

Status AtomicReplace(const std::string& path, std::string_view contents,
                     const ReplaceOptions& options = {});

// Creates `path` and missing parents with `mode` (like mkdir -p).
Status MakeDirs(const std::string& path, mode_t mode);

// The directory part of `path` ("." when there is none).
std::string DirName(const std::string& path);
// The last component of `path`.
std::string BaseName(const std::string& path);

bool PathExists(const std::string& path);

}  // namespace porthole

#endif  // PORTHOLE_CORE_BASE_FILE_H_
