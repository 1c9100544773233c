// One authorized_keys line, per sshd(8) "AUTHORIZED_KEYS FILE FORMAT":
//   [options] keytype base64-key [comment]
//
// Options are validated as sshd's auth-options.c does: names are
// case-insensitive; flags (restrict, cert-authority, [no-]port-forwarding,
// [no-]agent-forwarding, [no-]x11-forwarding, [no-]pty, [no-]user-rc,
// [no-]touch-required, [no-]verify-required) and valued options
// (command, principals, from, expiry-time, environment, permitopen,
// permitlisten, tunnel) whose value is double-quoted with \" as the only
// escape. An unknown option, a second command/principals/from, a bad value
// or stray characters make the whole line invalid, as sshd treats it.
//
// The aim is to accept exactly the lines sshd 9.2 accepts, so that a line
// sshd honours is never reported as unparseable. Where sshd is lenient we
// follow it: empty options (a leading, trailing or doubled comma) are
// skipped; a repeated tunnel or expiry-time is allowed (the last tunnel
// wins, the earliest expiry); permitopen/permitlisten ports may be service
// names from /etc/services; expiry-time is read with strptime(3) exactly as
// sshd does. We are stricter only where a value can never work (empty
// principals/from values, a NUL byte anywhere) and where a key would get two
// blobs (see ParsePublicKeyBlob). The functions here keep no state and may
// be called from any thread.
#ifndef PORTHOLE_CORE_KEYS_AUTHORIZED_KEY_H_
#define PORTHOLE_CORE_KEYS_AUTHORIZED_KEY_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/clock.h"
#include "core/base/status.h"
#include "core/keys/public_key.h"

namespace porthole::keys {

struct KeyOption {
  std::string name;  // lower-case, e.g. "no-pty", "command"
  // Dequoted value for valued options; unset for flags.
  std::optional<std::string> value;
  // The option exactly as written ("Command=\"x\""), used to write it back
  // unchanged; empty for options built in code.
  std::string raw;

  bool operator==(const KeyOption& o) const {
    return name == o.name && value == o.value;
  }
};

struct AuthorizedKey {
  std::vector<KeyOption> options;  // in the order written
  PublicKey key;
  std::string comment;  // trailing whitespace trimmed; may be empty

  // The earliest expiry-time option, if any (sshd keeps the earliest).
  std::optional<SystemTime> Expiry() const;
  bool HasOption(std::string_view name) const;
  const KeyOption* FindOption(std::string_view name) const;
};

// Longest line accepted; longer lines are invalid ("line too long").
inline constexpr size_t kMaxAuthorizedKeyLine = 256 * 1024;

// Parses one line (no trailing newline; a trailing '\r' is whitespace).
// Blank and comment lines are errors here: the file layer skips them.
// Leading spaces/tabs are allowed. As in sshd, a line whose first word is a
// key type name is a key without options; otherwise the first word is the
// options field (it ends at the first unquoted space or tab).
// Errors are kInvalidArgument with a reason such as
// "unknown option 'foo'", "bad base64 in key", "key type mismatch: line says
// ssh-rsa, key is ssh-ed25519", "invalid expiry-time \"2099-12-31\"".
Result<AuthorizedKey> ParseAuthorizedKey(std::string_view line);

// Only the options field ("restrict,command=\"x\""), validated as above.
// Unquoted whitespace is an error; "" gives an empty list.
Result<std::vector<KeyOption>> ParseKeyOptions(std::string_view text);

// Builds one option in code, validated as if parsed: `name` is matched
// case-insensitively and stored lower-case, flags take no value, valued
// options need a value that passes the option's checks and
// OptionValueWritable(). `raw` is left empty.
Result<KeyOption> MakeKeyOption(std::string_view name,
                                std::optional<std::string> value = {});

// False for values that cannot be written as a quoted option value and read
// back unchanged: one ending in a backslash (sshd would read `\"` as an
// escaped quote), or containing NUL, CR or LF.
bool OptionValueWritable(std::string_view value);

// Writes a line back: options (each option's `raw` when set and still
// reading back as that option, else canonical name="value" with '"' escaped
// as \"), a space, the type name, base64 of the blob, and the comment if
// not empty. ParseAuthorizedKey(Format(k)) == k (same options by name and
// value, same blob, same comment) for every parsed k, and for keys built in
// code whose option values are OptionValueWritable() and whose comment has
// no leading/trailing whitespace or line breaks.
std::string FormatAuthorizedKey(const AuthorizedKey& key);
std::string FormatKeyOptions(const std::vector<KeyOption>& options);

// sshd's expiry-time syntax: YYYYMMDD[HHMM[SS]] with an optional "Z" or "UTC"
// suffix (any case) for UTC, local time otherwise (as sshd, with tm_isdst 0).
// Fields are read by strptime(3) and normalised by timegm/mktime exactly as
// sshd does, so e.g. "20990231" (31 February) is accepted as 3 March.
// Times not after 1970-01-01T00:00:00Z are refused (sshd does too). Times
// past the range of SystemTime (year 2262) are clamped to its last second.
// Error: kInvalidArgument "invalid expiry-time \"TEXT\"".
Result<SystemTime> ParseExpiryTime(std::string_view text);
// "YYYYMMDDHHMMZ" in UTC (seconds dropped).
std::string FormatExpiryTime(SystemTime t);

}  // namespace porthole::keys

#endif  // PORTHOLE_CORE_KEYS_AUTHORIZED_KEY_H_
