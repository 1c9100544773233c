// porthole-agent: the device agent, a drop-in replacement for Torizon's
// Remote Access Client. A thin main: global options, then a command from
// the table (none: run the agent).
#include <cstdio>
#include <string>
#include <vector>

#include "agent/agent_options.h"
#include "agent/cmd_check_config.h"
#include "agent/cmd_check_policy.h"
#include "agent/version.h"
#include "core/base/exit_code.h"

namespace porthole::agent {
namespace {

struct Command {
  const char* name;
  const char* summary;
  int (*run)(const AgentOptions& options, const std::vector<std::string>& args);
};

constexpr Command kCommands[] = {
    {"check-config", "validate the configuration and print it as loaded",
     RunCheckConfig},
    {"check-policy",
     "verify signed remote-sessions metadata (and a session) offline",
     [](const AgentOptions&, const std::vector<std::string>& args) {
       return RunCheckPolicy(args);
     }},
};

void Usage(FILE* f) {
  std::fprintf(f,
               "usage: porthole-agent [--config FILE]          run the agent\n"
               "       porthole-agent --check-config [--config FILE]\n"
               "       porthole-agent [--config FILE] COMMAND [ARGS...]\n"
               "       porthole-agent --version | --help\n"
               "\ncommands:\n");
  for (const Command& c : kCommands) {
    std::fprintf(f, "  %-14s %s\n", c.name, c.summary);
  }
  std::fprintf(
      f,
      "\nThe configuration is RAC's client.toml: --config FILE, else "
      "$CONFIG_FILE,\nelse the first of /etc/porthole/agent.toml, "
      "/etc/rac/client.toml and\n./client.toml. RAC__<TABLE>__<KEY> and "
      "PORTHOLE__<TABLE>__<KEY> environment\nvariables override its keys.\n");
}

int UsageError(const std::string& message) {
  std::fprintf(stderr, "porthole-agent: %s (porthole-agent --help)\n",
               message.c_str());
  return kExitUsage;
}

int Main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  AgentOptions options;
  const Command* command = nullptr;
  size_t i = 0;
  for (; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--version") {
      std::printf("%s\n", UserAgent().c_str());
      return kExitSuccess;
    }
    if (a == "--help" || a == "-h" || a == "help") {
      Usage(stdout);
      return kExitSuccess;
    }
    if (a == "--config") {
      if (i + 1 == args.size()) return UsageError("--config needs a FILE");
      options.config_file = args[++i];
    } else if (a.starts_with("--config=")) {
      options.config_file = a.substr(9);
    } else if (a == "--check-config") {
      command = &kCommands[0];
    } else if (a.starts_with("-")) {
      return UsageError("unknown option '" + a + "'");
    } else {
      if (command != nullptr) break;  // --check-config takes no arguments
      for (const Command& c : kCommands) {
        if (a == c.name) command = &c;
      }
      if (command == nullptr) return UsageError("unknown command '" + a + "'");
      ++i;
      break;
    }
  }
  if (command != nullptr) {
    return command->run(options,
                        std::vector<std::string>(args.begin() + i, args.end()));
  }
  if (i < args.size()) return UsageError("unexpected '" + args[i] + "'");
  std::fprintf(stderr,
               "porthole-agent: the agent daemon is not implemented yet "
               "(--check-config validates a configuration)\n");
  return kExitFailure;
}

}  // namespace
}  // namespace porthole::agent

int main(int argc, char** argv) { return porthole::agent::Main(argc, argv); }
