// porthole-test-relay: porthole-server's SSH relay (src/server/relay) with a
// table backend read from a JSON file (server/relay/table_backend.h), for
// end-to-end tests and benchmarks before (and beside) porthole-server.
//
//   porthole-test-relay --table TABLE.json --host-key FILE [--port N] ...
//
// stdout gets one JSON object per line: first
//   {"event":"listening","port":N,"host_key":"ssh-ed25519 AAAA..."}
// then every relay event as
//   {"event":"tunnel_up|tunnel_down|operator_connect|operator_disconnect|
//    refused","session":..,"device":..,"fingerprint":..,"user":..,
//    "peer":..,"reason":..,"bytes_to_device":N,"bytes_from_device":N,
//    "duration_ms":N}
// and {"event":"reloaded"} / {"event":"reload_failed","reason":..} after
// SIGHUP (the table is read again, then the relay revalidates everything),
// {"event":"stopped"} at the end. The relay logs on stderr (PORTHOLE_LOG).
// SIGTERM or SIGINT stop it (exit 0). A bad table or option: one line on
// stderr, exit 2; a relay that cannot start: exit 1.
//
// Test-only: the host key file is created (Ed25519, 0600) if missing.
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>

#include "core/base/exit_code.h"
#include "core/base/logging.h"
#include "core/ssh/device_key.h"
#include "core/tuf/json.h"
#include "server/relay/relay.h"
#include "server/relay/table_backend.h"

namespace porthole::test_relay {
namespace {

using server::relay::RelayEvent;

std::mutex out_mu;

void PrintJson(const tuf::Json& j) {
  tuf::ErrorOr<std::string> line = tuf::DumpJson(j);
  std::lock_guard<std::mutex> lock(out_mu);
  if (line.ok()) {
    std::fprintf(stdout, "%s\n", line->c_str());
  } else {
    std::fprintf(stdout, "{\"event\":\"unprintable\"}\n");
  }
  std::fflush(stdout);
}

// Peer-supplied text may not be UTF-8; JSON output needs it to be.
std::string Utf8Safe(const std::string& s) {
  std::string out;
  for (unsigned char ch : s) out += ch < 0x80 ? static_cast<char>(ch) : '?';
  return out;
}

const char* KindName(RelayEvent::Kind k) {
  switch (k) {
    case RelayEvent::Kind::kTunnelUp:
      return "tunnel_up";
    case RelayEvent::Kind::kTunnelDown:
      return "tunnel_down";
    case RelayEvent::Kind::kOperatorConnect:
      return "operator_connect";
    case RelayEvent::Kind::kOperatorDisconnect:
      return "operator_disconnect";
    case RelayEvent::Kind::kRefused:
      return "refused";
  }
  return "unknown";
}

void PrintEvent(const RelayEvent& e) {
  tuf::Json j = tuf::Json::object();
  j["event"] = KindName(e.kind);
  j["session"] = Utf8Safe(e.session_id);
  j["device"] = Utf8Safe(e.device_id);
  j["fingerprint"] = e.fingerprint;
  j["user"] = Utf8Safe(e.user);
  j["peer"] = e.peer;
  j["reason"] = Utf8Safe(e.reason);
  j["bytes_to_device"] = e.bytes_to_device;
  j["bytes_from_device"] = e.bytes_from_device;
  j["duration_ms"] = static_cast<int64_t>(e.duration.count());
  PrintJson(j);
}

struct Args {
  std::string table, host_key, listen = "127.0.0.1";
  uint16_t port = 0;
  int64_t login_grace_ms = 30000, idle_timeout_ms = 300000,
          keepalive_interval_ms = 15000;
  int keepalive_count = 3;
  size_t max_connections = 20000, max_per_source = 1000,
         max_unauthenticated = 256, max_channels = 256, buffer_kib = 256;
};

int Main(int argc, char** argv) {
  InitLogging("porthole-test-relay");
  Args a;
  CLI::App app("SSH relay with a JSON table backend (tests)",
               "porthole-test-relay");
  app.add_option("--table", a.table, "devices and sessions (JSON)")->required();
  app.add_option("--host-key", a.host_key,
                 "relay host key (OpenSSH private key; created if missing)")
      ->required();
  app.add_option("--listen", a.listen, "listen address (default 127.0.0.1)");
  app.add_option("--port", a.port, "listen port (default 0: any free port)");
  app.add_option("--login-grace-ms", a.login_grace_ms, "login grace, ms");
  app.add_option("--idle-timeout-ms", a.idle_timeout_ms,
                 "idle timeout, ms (0: never)");
  app.add_option("--keepalive-interval-ms", a.keepalive_interval_ms,
                 "keepalive interval, ms");
  app.add_option("--keepalive-count", a.keepalive_count,
                 "unanswered keepalives allowed");
  app.add_option("--max-connections", a.max_connections, "connection limit");
  app.add_option("--max-per-source", a.max_per_source,
                 "connections per source address");
  app.add_option("--max-unauthenticated", a.max_unauthenticated,
                 "connections not yet logged in");
  app.add_option("--max-channels", a.max_channels, "channels per connection");
  app.add_option("--buffer-kib", a.buffer_kib,
                 "buffer per channel direction, KiB (1..256)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return kExitSuccess;
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "porthole-test-relay: %s\n", e.what());
    return kExitUsage;
  }

  Result<server::relay::Table> table = server::relay::LoadTable(a.table);
  if (!table.ok()) {
    std::fprintf(stderr, "porthole-test-relay: %s\n",
                 table.status().message().c_str());
    return ExitCodeFor(table.status());
  }
  Result<ssh::PrivateKey> key = ssh::PrivateKey::LoadOrCreate(a.host_key);
  if (!key.ok()) {
    std::fprintf(stderr, "porthole-test-relay: %s\n",
                 key.status().message().c_str());
    return kExitFailure;
  }
  // As many descriptors as allowed: the benchmarks hold thousands of
  // connections.
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }

  // Signals are taken by sigwait() below, so block them before any thread
  // starts (threads inherit the mask).
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGHUP, SIGINT, SIGTERM, SIGUSR2}) sigaddset(&set, sig);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  server::relay::TableBackend backend(Clock::Real(), &PrintEvent);
  backend.Replace(std::move(*table));
  server::relay::RelayOptions options;
  options.listen_address = a.listen;
  options.port = a.port;
  options.host_key = &*key;
  options.login_grace = std::chrono::milliseconds(a.login_grace_ms);
  options.idle_timeout = std::chrono::milliseconds(a.idle_timeout_ms);
  options.keepalive_interval =
      std::chrono::milliseconds(a.keepalive_interval_ms);
  options.keepalive_count_max = a.keepalive_count;
  options.max_connections = a.max_connections;
  options.max_per_source = a.max_per_source;
  options.max_unauthenticated = a.max_unauthenticated;
  options.max_channels_per_connection = a.max_channels;
  options.buffer_per_direction = a.buffer_kib * 1024;
  auto relay = server::relay::Relay::Create(std::move(options), &backend);
  if (!relay.ok()) {
    std::fprintf(stderr, "porthole-test-relay: %s\n",
                 relay.status().message().c_str());
    return ExitCodeFor(relay.status());
  }
  tuf::Json hello = tuf::Json::object();
  hello["event"] = "listening";
  hello["port"] = (*relay)->port();
  hello["host_key"] = key->PublicKeyLine();
  PrintJson(hello);

  pthread_t main_thread = pthread_self();
  Status run_status;
  std::thread runner([&] {
    run_status = (*relay)->Run();
    pthread_kill(main_thread, SIGUSR2);  // tell the main thread
  });
  bool stopping = false;
  for (;;) {
    int sig = 0;
    if (sigwait(&set, &sig) != 0) continue;
    if (sig == SIGUSR2) break;
    if (sig == SIGHUP && !stopping) {
      Result<server::relay::Table> fresh = server::relay::LoadTable(a.table);
      tuf::Json j = tuf::Json::object();
      if (fresh.ok()) {
        backend.Replace(std::move(*fresh));
        (*relay)->Revalidate();
        j["event"] = "reloaded";
      } else {
        j["event"] = "reload_failed";
        j["reason"] = Utf8Safe(fresh.status().message());
      }
      PrintJson(j);
      continue;
    }
    if (sig == SIGINT || sig == SIGTERM) {
      stopping = true;
      (*relay)->Stop();
    }
  }
  runner.join();
  tuf::Json bye = tuf::Json::object();
  bye["event"] = "stopped";
  PrintJson(bye);
  if (!run_status.ok()) {
    std::fprintf(stderr, "porthole-test-relay: %s\n",
                 run_status.message().c_str());
    return kExitFailure;
  }
  return kExitSuccess;
}

}  // namespace
}  // namespace porthole::test_relay

int main(int argc, char** argv) {
  return porthole::test_relay::Main(argc, argv);
}
