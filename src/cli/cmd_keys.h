// `porthole keys ...`: argument parsing and dispatch, local, remote or
// through sudo. Returns the process exit code.
#ifndef PORTHOLE_CLI_CMD_KEYS_H_
#define PORTHOLE_CLI_CMD_KEYS_H_

#include <string>
#include <vector>

namespace porthole::cli {

// `args` are the words after "keys".
int RunKeys(const std::vector<std::string>& args);

}  // namespace porthole::cli

#endif  // PORTHOLE_CLI_CMD_KEYS_H_
