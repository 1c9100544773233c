// porthole: the operator's tool. A thin main: subcommands through a table.
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "cli/cmd_keys.h"
#include "cli/commands.h"
#include "core/base/exit_code.h"

namespace porthole::cli {
namespace {

struct Command {
  const char* name;
  const char* summary;
  int (*run)(const std::vector<std::string>& args);
};

constexpr Command kCommands[] = {
    {"keys", "manage tiers of OpenSSH authorized_keys on a device", RunKeys},
    {"login", "log in to a porthole-server (pins its CA, saves the token)",
     RunLogin},
    {"logout", "forget the saved server and token", RunLogout},
    {"devices", "list devices", RunDevices},
    {"device", "show one device", RunDevice},
    {"session", "open, list, show, close remote sessions", RunSession},
    {"connect", "ssh to a device through the relay, opening a session",
     RunConnect},
    {"ssh-config", "print ssh_config blocks so `ssh DEVICE` works",
     RunSshConfig},
    {"ssh-proxy", "the ProxyCommand of ssh-config blocks", RunSshProxy},
    {"command", "run, list, show remote commands", RunCommand},
    {"audit", "the server's audit log", RunAudit},
    {"policy", "the signed policy: show, edit, keygen, sign offline",
     RunPolicy},
};

void Usage(FILE* f) {
  std::fprintf(f, "usage: porthole COMMAND [ARGS...]\n\ncommands:\n");
  for (const Command& c : kCommands) {
    std::fprintf(f, "  %-11s %s\n", c.name, c.summary);
  }
  std::fprintf(f, "\n'porthole COMMAND --help' for more; --version.\n");
}

int Main(int argc, char** argv) {
  if (argc < 2) {
    Usage(stderr);
    return kExitUsage;
  }
  std::string cmd = argv[1];
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    Usage(stdout);
    return kExitSuccess;
  }
  if (cmd == "--version") {
    std::printf("porthole %s\n", PORTHOLE_VERSION);
    return kExitSuccess;
  }
  for (const Command& c : kCommands) {
    if (cmd == c.name) {
      return c.run(std::vector<std::string>(argv + 2, argv + argc));
    }
  }
  std::fprintf(stderr, "porthole: unknown command '%s' (porthole --help)\n",
               cmd.c_str());
  return kExitUsage;
}

}  // namespace
}  // namespace porthole::cli

int main(int argc, char** argv) {
  // A child (ssh, sudo) that exits before reading the request we feed it must
  // give us EPIPE, not kill us. (An ignored signal survives exec: children
  // get the default back in SpawnProcess, and before connect's exec.)
  std::signal(SIGPIPE, SIG_IGN);
  return porthole::cli::Main(argc, argv);
}
