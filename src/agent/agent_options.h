// What porthole-agent's global command line says, shared by its commands.
#ifndef PORTHOLE_AGENT_AGENT_OPTIONS_H_
#define PORTHOLE_AGENT_AGENT_OPTIONS_H_

#include <string>

#include "core/base/exit_code.h"
#include "core/base/status.h"

namespace porthole::agent {

struct AgentOptions {
  std::string config_file;  // --config FILE; empty: the usual search
};

// The exit code for a configuration that could not be loaded: kExitUsage
// for a bad or missing file (the operator must fix it), kExitFailure when
// the file could not be read.
inline ExitCode ConfigExitCode(const Status& s) {
  if (s.ok()) return kExitSuccess;
  return s.code() == StatusCode::kInvalidArgument ||
                 s.code() == StatusCode::kNotFound
             ? kExitUsage
             : kExitFailure;
}

}  // namespace porthole::agent

#endif  // PORTHOLE_AGENT_AGENT_OPTIONS_H_
