// `porthole-server run`: the configuration mapped onto a Daemon, then wait
// for SIGTERM or SIGINT.
#include "server/run.h"

#include <signal.h>
#include <sys/resource.h>

#include <spdlog/spdlog.h>

#include <cstdio>

#include "core/base/exit_code.h"
#include "core/base/logging.h"
#include "server/daemon/daemon.h"
#include "server/data_dir.h"

namespace porthole::server {
namespace {

// Every idle long poll and every device tunnel is a descriptor.
void RaiseFileLimit() {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  if (rl.rlim_cur >= rl.rlim_max) return;
  rlim_t want = rl.rlim_max;
  rl.rlim_cur = want;
  if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
    spdlog::warn("could not raise the open-file limit to {}", want);
  }
}

daemon::DaemonOptions OptionsOf(const ServerConfig& c) {
  DataDir dir{c.data_dir};
  daemon::DaemonOptions o;
  o.store_path = c.StorePath();
  o.director_keys = dir.DirectorDir();
  o.tls_chain_file = dir.ServerCertChain();
  o.tls_key_file = dir.ServerKey();
  o.device_ca_file = dir.DeviceCaCert();
  o.relay_host_key_file = dir.RelayHostKey();
  o.device_api = {c.device_api.listen, c.device_api.port};
  o.operator_api = {c.operator_api.listen, c.operator_api.port};
  o.relay = {c.relay.listen.listen, c.relay.listen.port};
  o.relay_public_host = c.RelayPublicHost();
  o.settings.default_ttl = std::chrono::seconds(c.sessions.default_ttl.secs);
  o.settings.max_ttl = std::chrono::seconds(c.sessions.max_ttl.secs);
  o.settings.port_min = c.relay.port_min;
  o.settings.port_max = c.relay.port_max;
  o.director = DirectorOptionsOf(c);
  return o;
}

}  // namespace

int RunServer(const ServerConfig& config) {
  InitLogging("porthole-server");
  // The signals are waited for, not handled: block them before any thread
  // starts so that every thread inherits the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  RaiseFileLimit();

  auto daemon = daemon::Daemon::Start(OptionsOf(config));
  if (!daemon.ok()) {
    spdlog::error("porthole-server: {}", daemon.status().message());
    return kExitFailure;
  }
  spdlog::info("porthole-server: ready ({})", config.file);
  int sig = 0;
  sigwait(&stop_signals, &sig);
  spdlog::info("porthole-server: {} received, stopping",
               sig == SIGTERM ? "SIGTERM" : "SIGINT");
  (*daemon)->Stop();
  spdlog::info("porthole-server: stopped");
  return kExitSuccess;
}

}  // namespace porthole::server
