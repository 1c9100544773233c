// The ssh command lines of `porthole connect`, `porthole keys ...
// porthole:DEVICE` and `porthole ssh-config`: pure functions from names and
// paths to argument vectors and config text, so they can be checked exactly.
//
// Two hops. The outer ssh talks end to end to the device's SSH server (the
// operator's own key, sk- included; the device's host key pinned through
// HostKeyAlias porthole-NAME in porthole's own known_hosts). Its
// ProxyCommand is an inner ssh that logs in to the relay with the session's
// relay-only key (relay host key pinned in a per-session known_hosts) and
// asks, with -W, for a channel to NAME:22, which the relay bridges into the
// device's tunnel.
//
// Quoting. ssh expands '%' tokens in ProxyCommand, IdentityFile and
// UserKnownHostsFile, splits some option values at whitespace and quotes,
// and runs ProxyCommand with `$SHELL -c "exec ..."`; porthole runs ssh with
// SHELL=/bin/sh (SshEnvironment()) so that string is read by a POSIX shell.
// So: every ProxyCommand word is single-quoted with '%' doubled (and a path
// inside it, read again by the inner ssh, doubled twice); every path given
// to ssh must be absolute and free of whitespace, quotes, backslashes, '$'
// and control characters, and is refused otherwise with a line naming it;
// device names must match DeviceNameIsValid(). Keys go in as
// -o IdentityFile=, not -i: ssh stat()s an -i path before expanding '%%',
// so a path with a '%' could not work as -i. No shell of porthole's own
// ever sees any of it (argv vectors only).
#ifndef PORTHOLE_CLI_SSH_COMMAND_H_
#define PORTHOLE_CLI_SSH_COMMAND_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/base/status.h"

namespace porthole::cli {

// porthole-server's device names: [A-Za-z0-9][A-Za-z0-9._-]{0,62}. UUIDs
// match too.
bool DeviceNameIsValid(std::string_view name);

// "porthole-" + name: the alias the device's host keys are stored under.
std::string HostKeyAlias(std::string_view device_name);

// $PORTHOLE_SSH or "ssh" (tests point it at a wrapper).
std::string SshProgram();

// Extra environment for every ssh porthole starts: {"SHELL=/bin/sh"}.
std::vector<std::string> SshEnvironment();

// One word of a ProxyCommand: POSIX single quotes ('\'' for a quote) with
// every '%' doubled. kInvalidArgument for control characters or a
// backslash (ssh's own option parser would misread it).
Result<std::string> ProxyCommandWord(std::string_view word);

// A path as an ssh option value: absolute, no whitespace, quotes,
// backslash, '$' or control characters (kInvalidArgument naming `what` and
// the path), '%' doubled `percent_levels` times (1: read by one ssh; 2:
// inside a ProxyCommand, read by the outer and then the inner ssh).
Result<std::string> SshPath(const std::string& path, std::string_view what,
                            int percent_levels = 1);

struct RelayHop {
  std::string ssh_program = "ssh";
  std::string relay_user = "porthole";
  std::string relay_host;  // [A-Za-z0-9._:-], not starting with '-'
  uint16_t relay_port = 0;
  std::string relay_key_file;     // the session's relay-only private key
  std::string relay_known_hosts;  // holds the relay's pinned host key
  std::string device_name;        // the channel goes to device_name:22
};

// The inner ssh's argument vector, as the ProxyCommand's shell will hand it
// over (paths with '%' doubled once, for the inner ssh):
//   ssh -o IdentityFile=KEY -o IdentitiesOnly=yes -o IdentityAgent=none
//       -o UserKnownHostsFile=KH -o GlobalKnownHostsFile=/dev/null
//       -o StrictHostKeyChecking=yes -o BatchMode=yes
//       -W NAME:22 -p PORT -- porthole@HOST
Result<std::vector<std::string>> RelayHopArgv(const RelayHop& hop);

// RelayHopArgv() as one ProxyCommand string (each word ProxyCommandWord()).
Result<std::string> ProxyCommand(const RelayHop& hop);

struct DeviceHop {
  std::string device_name;
  std::string login_user;        // -l USER; "" for ssh's default
  std::string known_hosts;       // porthole's own known_hosts for devices
  bool host_keys_known = false;  // else StrictHostKeyChecking=accept-new
  std::string identity_file;     // -i; "" for none
  bool identities_only = false;
};

// The outer ssh's options as -o NAME=VALUE pairs, in order:
//   ProxyCommand, HostKeyAlias, UserKnownHostsFile, StrictHostKeyChecking,
//   HashKnownHosts=no, [IdentityFile, [IdentitiesOnly=yes]], Port=22
Result<std::vector<std::pair<std::string, std::string>>> DeviceSshOptions(
    const std::string& proxy_command, const DeviceHop& device);

// `porthole connect`'s ssh command line:
//   ssh -o ProxyCommand=... -o HostKeyAlias=porthole-NAME
//       -o UserKnownHostsFile=KH -o StrictHostKeyChecking=yes|accept-new
//       -o HashKnownHosts=no [-o IdentityFile=KEY [-o IdentitiesOnly=yes]]
//       [-l USER]
//       -p 22 NAME [EXTRA...]
// porthole's options come first, so they win over the same options in
// EXTRA (ssh takes the first value of an option); EXTRA follows the
// destination, so it may hold ssh options and a remote command.
Result<std::vector<std::string>> ConnectArgv(
    const std::string& ssh_program, const std::string& proxy_command,
    const DeviceHop& device, const std::vector<std::string>& extra);

// A `Host` block for ssh_config whose ProxyCommand is `proxy_command`:
//   Host ALIAS
//     HostName NAME
//     ProxyCommand ...
//     HostKeyAlias porthole-NAME
//     UserKnownHostsFile KH
//     StrictHostKeyChecking yes|accept-new
//     HashKnownHosts no
//     [IdentityFile KEY
//     [IdentitiesOnly yes]]
//     Port 22
Result<std::string> SshConfigBlock(const std::string& alias,
                                   const std::string& proxy_command,
                                   const DeviceHop& device);

}  // namespace porthole::cli

#endif  // PORTHOLE_CLI_SSH_COMMAND_H_
