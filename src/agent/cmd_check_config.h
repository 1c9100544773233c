// porthole-agent check-config (or --check-config): loads the configuration
// exactly as the agent does (file search, RAC__/PORTHOLE__ overrides) and
// prints it as loaded: every key with its value, defaults, derived values
// and values from the environment marked in comments (valid TOML, so the
// output can be fed back with --config).
//
// Exit 0 when it is valid. Otherwise one line on stderr naming the file,
// line and key, and exit 2 (1 when the file exists but cannot be read).
#ifndef PORTHOLE_AGENT_CMD_CHECK_CONFIG_H_
#define PORTHOLE_AGENT_CMD_CHECK_CONFIG_H_

#include <string>
#include <vector>

#include "agent/agent_options.h"
#include "core/config/agent_config.h"

namespace porthole::agent {

// The command: `args` are those after the command name ([--config FILE]).
int RunCheckConfig(const AgentOptions& options,
                   const std::vector<std::string>& args);

// The work, without the process: the config text goes to `out`, the error
// line (with a final newline) to `err`. Returns the exit code.
int CheckConfig(const config::LoadOptions& options, std::string* out,
                std::string* err);

}  // namespace porthole::agent

#endif  // PORTHOLE_AGENT_CMD_CHECK_CONFIG_H_
