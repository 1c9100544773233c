// What a remote command may do, and doing it (PROTOCOL.md 5.3, 5.4 with
// porthole's fixes of 13 rows 1-6).
//
//   std::vector<std::string> reasons = ValidateCommand(command, metadata);
//   if (reasons.empty()) result = ExecuteCommand(command, lines, timeout,
//   clock);
//
// Commands run from argument vectors, never through a shell. Everything
// here is blocking and thread-compatible; ExecuteCommand() may be called
// from any thread (it forks).
#ifndef PORTHOLE_AGENT_COMMAND_EXEC_H_
#define PORTHOLE_AGENT_COMMAND_EXEC_H_

#include <string>
#include <vector>

#include "agent/command.h"
#include "core/base/clock.h"
#include "core/config/agent_config.h"
#include "core/config/duration.h"
#include "core/tuf/remote_sessions.h"

namespace porthole::agent {

// The argument vectors the three commands run: porthole.reboot_command
// and porthole.restart_service_command of the config (FromConfig), never a
// shell string. argv[0] is looked up on PATH when it has no '/'. The
// agent normally runs unprivileged, hence sudo in the defaults, and `-n`
// so that a missing sudoers rule fails at once instead of waiting for a
// password (RAC bug 4). Placeholders are replaced inside each element
// (config::kServicePlaceholder and the delay ones, agent_config.h); an
// element never becomes more or fewer than one argument.
struct CommandLines {
  // Args are ignored. {delay_seconds} / {delay_minutes}: reboot_delay
  // rounded up to whole seconds / minutes. The delay lets the result reach
  // the server before the device goes down; the default `shutdown -r +1`
  // is relative to now (no local wall-clock text that DST can make
  // ambiguous, RAC bug 4) and works with systemd 252 (Debian 12), unlike
  // `systemctl reboot --when=` (systemd >= 254).
  std::vector<std::string> reboot = config::PortholeConfig().reboot_command;
  config::Duration reboot_delay = config::PortholeConfig().reboot_delay;
  // {service} becomes args[0]; extra args are ignored, as RAC does. A
  // missing args[0] is an execution error.
  std::vector<std::string> restart_service =
      config::PortholeConfig().restart_service_command;
  // Empty: the built-in echo (coreutils' semantics, without a fork or a
  // PATH lookup). Otherwise this argv with the args appended (tests).
  std::vector<std::string> echo;

  static CommandLines FromConfig(const config::PortholeConfig& porthole);
};

// What ExecuteCommand() puts in `error` when cancel_fd ended the command.
inline constexpr std::string_view kCommandCancelled =
    "cancelled: porthole-agent stopped while the command ran";

// RAC's rule (5.3), returning why the command may not run; empty when it
// may. Not allowed are: no `remote_commands` (exactly kNoRemoteCommands),
// a `remote_commands` that does not parse (signed, so retrying cannot help:
// it rejects, where RAC would block every command), a name RAC does not
// know (porthole rejects that command only, 13 row 5), a name missing from
// `allowed_commands`, and each argument missing from that name's list.
std::vector<std::string> ValidateCommand(const Command& command,
                                         const tuf::RemoteSessions& metadata);

// Runs an allowed command and returns its result; never fails. stdin is
// /dev/null; stdout and stderr are captured, each capped by CapOutput();
// echo's stdout loses its trailing whitespace as with RAC. success is
// exit status 0 (and no timeout). After `timeout` the whole process group
// gets SIGTERM, then SIGKILL 2 s later, and the result is a failure with
// error "timed out after 30s" and whatever output came before. Execution
// errors (the program cannot start, restart-service without a name, an
// empty argv, an unknown name) are failed results with `error` a string
// saying why (13 row 3). finished_at is clock.Now() when it ended.
// When `cancel_fd` becomes readable (the agent is stopping) the whole group
// gets SIGTERM, SIGKILL 500 ms later, and the result is a failure with
// error kCommandCancelled and the output so far.
CommandResult ExecuteCommand(const Command& command, const CommandLines& lines,
                             config::Duration timeout, const Clock& clock,
                             int cancel_fd = -1);

// What `echo ARGS...` prints with GNU coreutils (POSIXLY_CORRECT unset):
// leading arguments made only of -n, -e, -E are options; with -e the
// backslash escapes \\ \a \b \c \e \f \n \r \t \v \0NNN \NNN \xHH apply.
// Includes the final newline unless -n or \c.
std::string BuiltinEcho(const std::vector<std::string>& args);

}  // namespace porthole::agent

#endif  // PORTHOLE_AGENT_COMMAND_EXEC_H_
