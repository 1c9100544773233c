// sshd's StrictModes check (openssh misc.c safe_path()), so porthole can warn
// when it writes a key file that sshd would silently ignore.
#ifndef PORTHOLE_CORE_KEYS_STRICT_MODES_H_
#define PORTHOLE_CORE_KEYS_STRICT_MODES_H_

#include <sys/types.h>

#include <optional>
#include <string>

namespace porthole::keys {

// Why sshd, authenticating the user with `uid` and home directory `home`,
// would refuse to read `path` under StrictModes yes, or unset if it would
// read it: the file and every directory above it (up to `home` or "/") must
// be owned by root or `uid` and not writable by group or others.
std::optional<std::string> StrictModesProblem(const std::string& path,
                                              uid_t uid,
                                              const std::string& home);

}  // namespace porthole::keys

#endif  // PORTHOLE_CORE_KEYS_STRICT_MODES_H_
