// porthole-bench-tunnels: opens many idle device tunnels from one process
// (core/ssh/tunnel_swarm.h) against a relay, then holds them until SIGTERM
// or SIGINT: bench/relay.sh measures what each costs the relay.
//
//   porthole-bench-tunnels --port P --key FILE --count N --port-base B
//       [--host 127.0.0.1] [--user uuid|NAME]
//
// Tunnel i logs in as user NAME (or, with "uuid", the device id
// 00000000-0000-4000-8000-<i as 12 hex digits>) and forwards
// 127.0.0.1:(B + i). stdout: "opened I" every 500, then "ready OPENED
// FAILED", and "alive N" when stopped. Exit 0, or 1 if none opened, 2 for
// bad arguments.
#include <signal.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <string>

#include "core/base/exit_code.h"
#include "core/base/unique_fd.h"
#include "core/ssh/device_key.h"
#include "core/ssh/tunnel_swarm.h"

namespace {

std::string DeviceUuid(size_t i) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "00000000-0000-4000-8000-%012zx", i);
  return buf;
}

int Main(int argc, char** argv) {
  std::string host = "127.0.0.1", key_path, user = "uuid";
  uint16_t port = 0, port_base = 20000;
  size_t count = 100;
  CLI::App app("many idle device tunnels against a relay (benchmarks)",
               "porthole-bench-tunnels");
  app.add_option("--host", host, "relay address");
  app.add_option("--port", port, "relay port")->required();
  app.add_option("--key", key_path, "device private key (all tunnels)")
      ->required();
  app.add_option("--count", count, "tunnels to open");
  app.add_option("--port-base", port_base, "tunnel i forwards BASE + i");
  app.add_option("--user", user, "user name, or 'uuid' for device ids");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return porthole::kExitSuccess;
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "porthole-bench-tunnels: %s\n", e.what());
    return porthole::kExitUsage;
  }
  if (count + port_base > 65535) {
    std::fprintf(stderr,
                 "porthole-bench-tunnels: --port-base + --count > 65535\n");
    return porthole::kExitUsage;
  }
  auto key = porthole::ssh::PrivateKey::Load(key_path);
  if (!key.ok()) {
    std::fprintf(stderr, "porthole-bench-tunnels: %s\n",
                 key.status().message().c_str());
    return porthole::kExitUsage;
  }
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  porthole::UniqueFd stop(signalfd(-1, &set, SFD_CLOEXEC));

  porthole::ssh::SwarmConfig cfg;
  cfg.host = host;
  cfg.port = port;
  cfg.key = &*key;
  cfg.user = [&](size_t i) { return user == "uuid" ? DeviceUuid(i) : user; };
  cfg.forward_port = [&](size_t i) {
    return static_cast<uint16_t>(port_base + i);
  };
  porthole::ssh::TunnelSwarm swarm(cfg);
  size_t failed = 0;
  for (size_t i = 0; i < count; ++i) {
    porthole::Status s = swarm.Open(i);
    swarm.Poll();
    if (!s.ok()) {
      if (++failed <= 5) {
        std::fprintf(stderr, "porthole-bench-tunnels: %s\n",
                     s.message().c_str());
      }
    }
    if ((i + 1) % 500 == 0) {
      std::printf("opened %zu\n", i + 1);
      std::fflush(stdout);
    }
  }
  std::printf("ready %zu %zu\n", swarm.size(), failed);
  std::fflush(stdout);
  if (swarm.size() == 0) return porthole::kExitFailure;
  size_t alive = swarm.Run(stop.get());
  std::printf("alive %zu\n", alive);
  return porthole::kExitSuccess;
}

}  // namespace

int main(int argc, char** argv) { return Main(argc, argv); }
