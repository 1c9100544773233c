// porthole-server: the server side of porthole. A thin main: the global
// options, then one command from the table; each command lives in its own
// cmd_<name>.cc. Exit codes: 0 success, 1 failure, 2 usage (bad arguments,
// configuration or input).
#include <CLI/CLI.hpp>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "core/base/exit_code.h"
#include "core/base/file.h"
#include "server/cli_common.h"
#include "server/cmd_device.h"
#include "server/cmd_init.h"
#include "server/cmd_policy.h"
#include "server/cmd_token.h"
#include "server/run.h"

namespace porthole::server {
namespace {

// On a data directory that does not exist yet (or is empty), `run` does
// what `init` would, prints the same summary, then serves.
int InitOnFirstRun(const GlobalOptions& global, std::string hostname) {
  if (!global.config_file.empty()) return -1;
  if (PathExists(DataDir{global.data_dir}.ConfigFile())) return -1;
  if (hostname.empty()) {
    char name[256] = {};
    if (gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') {
      return Fail(Status::InvalidArgument(
          "the data directory is not initialised and the host name is "
          "unknown: pass --hostname NAME"));
    }
    hostname = name;
  }
  auto r = InitDataDir({global.data_dir, hostname, false});
  if (!r.ok()) return Fail(r.status());
  Print(FormatInitSummary(*r, hostname));
  std::fflush(stdout);
  return -1;
}

CommandAction SetupRun(CLI::App* sub, const GlobalOptions* global) {
  auto hostname = std::make_shared<std::string>();
  sub->add_option("--hostname", *hostname,
                  "on first run (no DATA_DIR/server.toml yet): the public "
                  "name for init (default: this machine's host name)")
      ->option_text("NAME");
  return [global, hostname]() -> int {
    int rc = InitOnFirstRun(*global, *hostname);
    if (rc >= 0) return rc;
    auto config = LoadConfig(*global);
    if (!config.ok()) return Fail(config.status());
    return RunServer(*config);
  };
}

constexpr CommandSpec kCommands[] = {
    {"init", "create a data directory: CAs, keys, config, store, a token",
     SetupInit},
    {"run", "run the server", SetupRun},
    {"device", "add, list, show and remove devices", SetupDevice},
    {"token", "create, list and revoke operator API tokens", SetupToken},
    {"policy", "show and edit the signed policy; export, import", SetupPolicy},
    {"root", "show and rotate the signed root", SetupRoot},
};

int CheckConfig(const GlobalOptions& global) {
  auto config = LoadConfig(global);
  if (!config.ok()) return Fail(config.status());
  Print(FormatServerConfig(*config));
  return kExitSuccess;
}

int Main(int argc, char** argv) {
  CLI::App app(
      "porthole-server: the device API, signed policy, SSH relay, operator "
      "API and store of porthole.\nAdmin commands work while the server "
      "runs.",
      "porthole-server");
  GlobalOptions global;
  app.add_option("--config", global.config_file,
                 "configuration file (default DATA_DIR/server.toml)")
      ->option_text("FILE");
  app.add_option(
         "--data-dir", global.data_dir,
         "data directory (default " + std::string(kDefaultDataDir) + ")")
      ->option_text("DIR");
  app.add_flag("--check-config", global.check_config,
               "validate the configuration and print it with every default");
  app.set_version_flag("--version", "porthole-server " PORTHOLE_VERSION);
  app.require_subcommand(0, 1);

  std::vector<std::pair<CLI::App*, CommandAction>> actions;
  for (const CommandSpec& c : kCommands) {
    CLI::App* sub = app.add_subcommand(c.name, c.summary);
    actions.emplace_back(sub, c.setup(sub, &global));
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    std::string what = e.what();
    while (!what.empty() && what.back() == '\n') what.pop_back();
    std::fprintf(stderr, "porthole-server: %s (porthole-server --help)\n",
                 what.c_str());
    return kExitUsage;
  }
  if (global.check_config) {
    if (app.get_subcommands().empty()) return CheckConfig(global);
    return Fail(Status::InvalidArgument("--check-config takes no command"));
  }
  for (auto& [sub, action] : actions) {
    if (sub->parsed()) return action();
  }
  std::fprintf(stderr,
               "porthole-server: a command is needed (porthole-server "
               "--help)\n");
  return kExitUsage;
}

}  // namespace
}  // namespace porthole::server

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  return porthole::server::Main(argc, argv);
}
