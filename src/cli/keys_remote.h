// Running `porthole keys` on another host over the user's own ssh.
//
// The remote command line is fixed ("'PORTHOLE' keys --from-stdin"); the
// arguments and the operator's catalogue travel on ssh's stdin as a request:
//   "porthole-keys-request 1\0" ARG "\0" ARG "\0" ... "\0" CATALOGUE-TOML
// so nothing the user typed is ever interpreted by a remote shell. The remote
// side's exit code and output are passed through unchanged.
#ifndef PORTHOLE_CLI_KEYS_REMOTE_H_
#define PORTHOLE_CLI_KEYS_REMOTE_H_

#include <string>
#include <string_view>
#include <vector>

#include "core/base/status.h"

namespace porthole::cli {

inline constexpr size_t kMaxKeysRequest = 16 << 20;

struct KeysRequest {
  std::vector<std::string> args;  // starting with the verb
  std::string catalogue_toml;
};

std::string EncodeKeysRequest(const KeysRequest& request);
// kInvalidArgument on anything but a well-formed request.
Result<KeysRequest> DecodeKeysRequest(std::string_view data);

struct RemoteTarget {
  std::string host;                      // ssh destination
  std::string ssh_config;                // -F
  std::string jump;                      // -J
  std::vector<std::string> ssh_options;  // -o, each
  std::string remote_porthole = "porthole";
  std::vector<std::string> env;  // extra "NAME=value" for ssh's environment
};

// POSIX shell single-quoting of one word.
std::string ShellQuote(std::string_view word);

// ssh's argument vector for `target` running `remote_command`. The ssh
// program is $PORTHOLE_SSH or "ssh".
std::vector<std::string> SshArgv(const RemoteTarget& target,
                                 const std::string& remote_command);

// Runs the request on `target`; returns the exit code to exit with. ssh's own
// failure (exit 255) is reported on stderr and becomes 1.
Result<int> RunKeysRemote(const RemoteTarget& target,
                          const KeysRequest& request);

// Runs the request through `sudo -n` with this same executable; returns its
// exit code.
Result<int> RunKeysElevated(const KeysRequest& request);

}  // namespace porthole::cli

#endif  // PORTHOLE_CLI_KEYS_REMOTE_H_
