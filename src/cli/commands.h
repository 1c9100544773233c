// The operator commands of `porthole` (besides `keys`, cmd_keys.h): each
// takes the words after its name and returns the process exit code
// (0 done, 1 failed, 2 usage), printing one line on stderr on failure.
#ifndef PORTHOLE_CLI_COMMANDS_H_
#define PORTHOLE_CLI_COMMANDS_H_

#include <string>
#include <vector>

namespace porthole::cli {

using Args = std::vector<std::string>;

int RunLogin(const Args& args);      // cmd_login.cc
int RunLogout(const Args& args);     // cmd_login.cc
int RunDevices(const Args& args);    // cmd_devices.cc
int RunDevice(const Args& args);     // cmd_devices.cc
int RunSession(const Args& args);    // cmd_session.cc
int RunCommand(const Args& args);    // cmd_command.cc
int RunAudit(const Args& args);      // cmd_audit.cc
int RunPolicy(const Args& args);     // cmd_policy.cc
int RunConnect(const Args& args);    // cmd_connect.cc
int RunSshConfig(const Args& args);  // cmd_connect.cc
int RunSshProxy(const Args& args);   // cmd_connect.cc

}  // namespace porthole::cli

#endif  // PORTHOLE_CLI_COMMANDS_H_
