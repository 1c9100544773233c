// porthole-agent: the device agent, a drop-in replacement for Torizon's
// Remote Access Client. A thin main: global options, then a command from
// the table (none: run the agent).
#include <cstdio>
#include <string>
#include <vector>

#include <signal.h>

#include "agent/agent.h"
#include "agent/agent_options.h"
#include "agent/cmd_check_config.h"
#include "agent/cmd_check_policy.h"
#include "agent/cmd_status.h"
#include "agent/version.h"
#include "core/base/exit_code.h"
#include "core/base/logging.h"

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
    {"status", "show the running agent's state (over D-Bus)", RunStatus},
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

Agent* g_agent = nullptr;

void OnTerminate(int) {
  if (g_agent != nullptr) g_agent->Shutdown();
}

void OnPollNow(int) {
  if (g_agent != nullptr) g_agent->PollNow();
}

// The daemon: SIGTERM/SIGINT end it cleanly (session disconnected, session
// keys removed), SIGUSR1 makes it poll (or re-validate) now; it exits
// non-zero only when it cannot start.
int RunDaemon(const AgentOptions& options) {
  InitLogging("porthole-agent");
  config::LoadOptions load;
  load.config_file = options.config_file;
  load.env = config::ProcessEnvironment();
  auto config = config::LoadAgentConfig(load);
  if (!config.ok()) {
    std::fprintf(stderr, "porthole-agent: %s\n",
                 config.status().message().c_str());
    return ConfigExitCode(config.status());
  }
  spdlog::info("{} starting, config {}", UserAgent(), config->file);
  signal(SIGPIPE, SIG_IGN);
  Agent agent(std::move(config).value());
  g_agent = &agent;
  struct sigaction sa = {};
  sa.sa_handler = OnTerminate;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  sa.sa_handler = OnPollNow;
  sigaction(SIGUSR1, &sa, nullptr);
  int code = agent.Run();
  signal(SIGTERM, SIG_DFL);
  signal(SIGINT, SIG_DFL);
  signal(SIGUSR1, SIG_DFL);
  g_agent = nullptr;
  return code;
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
  return RunDaemon(options);
}

}  // namespace
}  // namespace porthole::agent

int main(int argc, char** argv) { return porthole::agent::Main(argc, argv); }
