#include "core/keys/strict_modes.h"

#include <sys/stat.h>

#include "core/base/file.h"

namespace porthole::keys {

std::optional<std::string> StrictModesProblem(const std::string& path,
                                              uid_t uid,
                                              const std::string& home) {
  auto bad = [&](const struct stat& st) {
    return (st.st_uid != 0 && st.st_uid != uid) || (st.st_mode & 022) != 0;
  };
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return std::nullopt;  // nothing to read
  if (!S_ISREG(st.st_mode)) return path + " is not a regular file";
  if (bad(st)) {
    return "bad ownership or modes for file " + path;
  }
  std::string dir = path;
  do {
    dir = DirName(dir);
    if (stat(dir.c_str(), &st) != 0) return std::nullopt;
    if (bad(st)) return "bad ownership or modes for directory " + dir;
    if (!home.empty() && dir == home) break;  // sshd stops at the home dir
  } while (dir != "/" && dir != ".");
  return std::nullopt;
}

}  // namespace porthole::keys
