#include "agent/cmd_check_config.h"

#include <cstdio>

#include "core/base/logging.h"

namespace porthole::agent {

int CheckConfig(const config::LoadOptions& options, std::string* out,
                std::string* err) {
  auto c = config::LoadAgentConfig(options);
  if (!c.ok()) {
    *err = "porthole-agent: " + c.status().message() + "\n";
    return ConfigExitCode(c.status());
  }
  *out = config::FormatAgentConfig(*c, config::ConfigStyle::kAnnotated);
  return kExitSuccess;
}

int RunCheckConfig(const AgentOptions& options,
                   const std::vector<std::string>& args) {
  config::LoadOptions load;
  load.config_file = options.config_file;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--config" && i + 1 < args.size()) {
      load.config_file = args[++i];
    } else if (args[i].starts_with("--config=")) {
      load.config_file = args[i].substr(9);
    } else {
      std::fprintf(stderr,
                   "porthole-agent: check-config: unexpected argument '%s' "
                   "(usage: porthole-agent check-config [--config FILE])\n",
                   args[i].c_str());
      return kExitUsage;
    }
  }
  InitLogging("porthole-agent");
  load.env = config::ProcessEnvironment();
  std::string out, err;
  int code = CheckConfig(load, &out, &err);
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fwrite(err.data(), 1, err.size(), stderr);
  return code;
}

}  // namespace porthole::agent
