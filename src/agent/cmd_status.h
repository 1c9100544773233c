// porthole-agent status [--json] [--system]: asks the running agent over
// D-Bus (org.porthole.Agent1.GetStatus, agent/dbus/dbus_service.h) and
// prints what it says. The session bus by default, as the agent; --system
// for the system bus. No configuration is read.
//
// Human output, one "name: value" line per field, "-" for empty values,
// control characters shown as '?':
//   session state:    active
//   relay:            ras.example.com:22
//   mode:             spawned_sshd
//   last poll time:   2024-05-01T10:00:00Z
//   last poll result: session
//   last error:       -
//   pending commands: 0
// --json prints one compact object with the AgentStatus member names
// ("session_state", ..., "pending_commands" as a number) and a newline.
//
// Exit 0 when the agent answered; 1 with one line on stderr when it cannot
// be reached ("porthole-agent: porthole-agent is not running on the session
// bus (nothing owns org.porthole.Agent)"); 2 for bad arguments.
#ifndef PORTHOLE_AGENT_CMD_STATUS_H_
#define PORTHOLE_AGENT_CMD_STATUS_H_

#include <string>
#include <vector>

#include "agent/agent_options.h"
#include "agent/dbus/dbus_service.h"

namespace porthole::agent {

// The command: `args` are those after the command name.
int RunStatus(const AgentOptions& options,
              const std::vector<std::string>& args);

// The work without the process: `bus` says where to ask (--system
// switches it to the system bus); the output goes to `out`, the error line
// (with a final newline) to `err`. Returns the exit code.
int ShowStatus(const std::vector<std::string>& args, DbusOptions bus,
               std::string* out, std::string* err);

// The two output forms.
std::string FormatStatus(const AgentStatus& status);
std::string FormatStatusJson(const AgentStatus& status);

}  // namespace porthole::agent

#endif  // PORTHOLE_AGENT_CMD_STATUS_H_
