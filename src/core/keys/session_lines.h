// Session keys in an authorized_keys file: the lines porthole-agent adds
// for a remote session in target_host mode (PROTOCOL.md 8.3, with 13 row
// 21), and RAC's.
//
// A session line is a plain key line (no options) whose comment ends with
// a marker:
//   ssh-ed25519 AAAA... alice@laptop added by porthole-agent on 2025-07-30 17:10:39.123 +01:00
//   ssh-ed25519 AAAA... alice@laptop added by rac on 2025-07-30 17:10:39.123456789 +01:00
// Only lines whose comment ENDS with "added by rac on <time>" or "added by
// porthole-agent on <time>" (time as "YYYY-MM-DD HH:MM:SS[.fraction]
// +HH:MM") are session lines: a user's own line that merely mentions "added
// by rac" elsewhere is kept (RAC deleted it).
//
// ReplaceSessionLines() is a read-modify-replace under an flock on the
// file's directory (the lock `porthole keys` takes too), written with
// AtomicReplace: every other line keeps its bytes, the file keeps its owner
// and mode, and a new file is created with mode 0600.
#ifndef PORTHOLE_CORE_KEYS_SESSION_LINES_H_
#define PORTHOLE_CORE_KEYS_SESSION_LINES_H_

#include <string>
#include <string_view>
#include <vector>

#include "core/base/status.h"
#include "core/keys/authorized_keys_file.h"
#include "core/keys/public_key.h"

namespace porthole::keys {

inline constexpr std::string_view kAgentMarker = "added by porthole-agent on ";
inline constexpr std::string_view kRacMarker = "added by rac on ";

// True if `comment` ends with one of the two markers and a well-formed time.
bool IsSessionComment(std::string_view comment);
bool IsSessionLine(const AuthorizedKeysLine& line);

struct SessionKey {
  PublicKey key;
  std::string comment;  // the operator's comment, may be empty
};

// The line written for `key`: "TYPE BASE64 [comment ]" + kAgentMarker +
// `local_time` (control characters in the comment become '?').
std::string FormatSessionLine(const SessionKey& key,
                              std::string_view local_time);

// Drops every session line from the file at `path` and appends one line per
// key in `keys` (none: only the clean-up). A missing file with no keys to
// add stays missing. Returns how many lines were removed through `removed`
// (may be null). Errors name the path.
Status ReplaceSessionLines(const std::string& path,
                           const std::vector<SessionKey>& keys,
                           std::string_view local_time,
                           size_t* removed = nullptr);

}  // namespace porthole::keys

#endif  // PORTHOLE_CORE_KEYS_SESSION_LINES_H_
