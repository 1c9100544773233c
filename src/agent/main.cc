// porthole-agent: the device agent, a drop-in replacement for Torizon's
// Remote Access Client. A thin main: global options, then a command from
// the table (none: run the agent).
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/agent.h"
#include "agent/agent_options.h"
#include "agent/cmd_check_config.h"
#include "agent/cmd_check_policy.h"
#include "agent/cmd_status.h"
#include "agent/version.h"
#include "core/base/exit_code.h"
#include "core/base/logging.h"
#include "core/base/unique_fd.h"

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

std::atomic<Agent*> g_agent{nullptr};
volatile sig_atomic_t g_terminated = 0;
int g_reload_fd = -1;

void OnTerminate(int) {
  g_terminated = 1;
  if (Agent* a = g_agent.load()) a->Shutdown();
}

void OnPollNow(int) {
  if (Agent* a = g_agent.load()) a->PollNow();
}

void OnReload(int) {
  uint64_t one = 1;
  ssize_t ignored = write(g_reload_fd, &one, sizeof one);
  (void)ignored;
}

// The daemon: SIGTERM/SIGINT end it cleanly (session disconnected, session
// keys removed, a running command ended and its result kept), SIGUSR1
// makes it poll (or re-validate) now, SIGHUP reloads the configuration
// (agent/reload.h): an Agent that stops for a reload is replaced by one
// with the new configuration; if that one cannot start, by one with the
// previous configuration again. It exits non-zero only when it cannot
// start.
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
  UniqueFd reload_fd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!reload_fd.valid()) {
    spdlog::error("cannot start: eventfd: {}", std::strerror(errno));
    return kExitFailure;
  }
  g_reload_fd = reload_fd.get();
  struct sigaction sa = {};
  sigemptyset(&sa.sa_mask);
  sa.sa_handler = OnTerminate;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  sa.sa_handler = OnPollNow;
  sigaction(SIGUSR1, &sa, nullptr);
  sa.sa_handler = OnReload;
  sigaction(SIGHUP, &sa, nullptr);

  config::AgentConfig current = std::move(config).value();
  std::optional<config::AgentConfig> previous;  // before the last reload
  std::optional<http::TlsClientConfig> tls;
  int code = kExitSuccess;
  while (true) {
    AgentHooks hooks;
    hooks.load_config = [load] { return config::LoadAgentConfig(load); };
    hooks.reload_fd = reload_fd.get();
    hooks.previous_tls = tls;
    auto agent = std::make_unique<Agent>(current, std::move(hooks));
    g_agent.store(agent.get());
    if (g_terminated) agent->Shutdown();
    code = agent->Run();
    g_agent.store(nullptr);
    if (g_terminated) break;
    if (std::optional<config::AgentConfig> next = agent->TakeReloadedConfig()) {
      tls = agent->tls();
      previous = std::move(current);
      current = std::move(*next);
      spdlog::info("reload: restarting with {}", current.file);
      continue;
    }
    if (code == kExitFailure && previous) {
      spdlog::error(
          "reload: the new configuration cannot start (see above); going "
          "back to the previous one");
      current = std::move(*previous);
      previous.reset();
      continue;
    }
    break;
  }
  signal(SIGTERM, SIG_DFL);
  signal(SIGINT, SIG_DFL);
  signal(SIGUSR1, SIG_DFL);
  signal(SIGHUP, SIG_DFL);
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
