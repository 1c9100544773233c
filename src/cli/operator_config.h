// The operator's login: which porthole-server to talk to, the bearer token
// and the server CA that `porthole login` pinned. One TOML file, written by
// `porthole login`, removed by `porthole logout`, read by every other
// command:
//
//   # porthole operator login (porthole login); holds a secret: keep 0600
//   server = "https://porthole.example.com:8444"
//   token = "ph_..."
//   ca = "-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----\n"
//
// Location: $XDG_CONFIG_HOME/porthole/operator.toml, else
// ~/.config/porthole/operator.toml. The file holds a secret: it is written
// atomically (temp file, fsync, rename) with mode 0600 in a 0700 directory,
// and a file that is a symbolic link, not owned by the user, or readable by
// anyone else is refused when read, as ssh refuses such a private key.
//
// Plain functions; not safe against two logins writing at the same moment
// (the later one wins, never a mix of both).
#ifndef PORTHOLE_CLI_OPERATOR_CONFIG_H_
#define PORTHOLE_CLI_OPERATOR_CONFIG_H_

#include <string>
#include <string_view>

#include "core/base/status.h"

namespace porthole::cli {

struct OperatorConfig {
  std::string server;  // "https://host[:port][/prefix]", no trailing '/'
  std::string token;   // printable ASCII, no spaces
  std::string ca_pem;  // one or more PEM certificates: the only trust anchor

  friend bool operator==(const OperatorConfig&,
                         const OperatorConfig&) = default;
};

// The user's home: $HOME when set and absolute, else the password
// database's entry for the real uid.
Result<std::string> HomeDir();
// $XDG_CONFIG_HOME/porthole or ~/.config/porthole (XDG values that are not
// absolute are ignored, as the XDG spec says).
Result<std::string> PortholeConfigDir();
// $XDG_CACHE_HOME/porthole or ~/.cache/porthole.
Result<std::string> PortholeCacheDir();
// PortholeConfigDir() + "/operator.toml".
Result<std::string> OperatorConfigPath();

// `text` as a server URL: https only, a host, an optional port 1..65535 and
// path prefix; no user information, query or fragment. The trailing '/' is
// dropped. kInvalidArgument quoting the text.
Result<std::string> NormalizeServerUrl(std::string_view text);

// A bearer token: 1..4096 printable ASCII characters without spaces (it
// goes into an HTTP header). kInvalidArgument otherwise.
Status CheckToken(const std::string& token);

// Parses the file's text; `source` names it in messages. Every key is
// required; unknown keys, a bad URL, a token with spaces or control
// characters (it goes into an HTTP header) or a `ca` without a PEM
// certificate are kInvalidArgument "FILE:LINE: key 'x': reason".
Result<OperatorConfig> ParseOperatorConfig(std::string_view text,
                                           const std::string& source);
// The file's text (ParseOperatorConfig reads it back).
std::string FormatOperatorConfig(const OperatorConfig& config);

// Reads `path`. kNotFound "not logged in (no PATH): porthole login URL
// --token ... --ca-sha256 ..." when missing; kPermissionDenied naming the
// file for a symlink, another owner, or a group/world-accessible mode.
Result<OperatorConfig> LoadOperatorConfig(const std::string& path);

// Validates `config` (as ParseOperatorConfig would), creates the directory
// (0700; an existing one of ours is tightened to 0700) and replaces the file
// atomically with mode 0600. On failure the old file is untouched.
Status SaveOperatorConfig(const std::string& path,
                          const OperatorConfig& config);

// Removes the file (missing is fine). A symbolic link is removed, never
// followed.
Status RemoveOperatorConfig(const std::string& path);

}  // namespace porthole::cli

#endif  // PORTHOLE_CLI_OPERATOR_CONFIG_H_
