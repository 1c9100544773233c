// porthole-server's running state: the store, the director, the device and
// operator HTTPS listeners, the SSH relay, and the housekeeping that ties
// them together.
//
//   DaemonOptions options = ...;            // from server.toml (run.cc)
//   auto daemon = Daemon::Start(std::move(options));
//   ... wait for SIGTERM ...
//   (*daemon)->Stop();
//
// Threads: the HTTPS servers' I/O threads, the relay's event loop, the timer
// queue that parks long polls, and one housekeeping thread that every
// quarter second
//   - ends sessions whose expires_at has passed (audit "session.expire",
//     wakes the device's long polls, makes the relay cut them),
//   - notices changes made by other processes on the same store
//     (`porthole-server device remove` while the server runs): wakes every
//     long poll and makes the relay re-check,
// every 10 s writes the devices' last-seen times, and every hour renews
// signed metadata that is about to expire (online keys only; otherwise it
// logs a warning every hour).
//
// Stop() answers nothing more: listeners close, pending long polls are cut
// (clients retry), the relay disconnects every tunnel ("server stopping").
#ifndef PORTHOLE_SERVER_DAEMON_DAEMON_H_
#define PORTHOLE_SERVER_DAEMON_DAEMON_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "core/base/status.h"
#include "server/api/context.h"
#include "server/director/director.h"

namespace porthole::server::daemon {

struct ListenOptions {
  std::string address = "0.0.0.0";
  uint16_t port = 0;  // 0: any free port (tests)
};

struct DaemonOptions {
  std::string store_path;     // the SQLite file
  std::string director_keys;  // the director's key directory
  // TLS: the server certificate chain and key (both listeners) and the
  // device CA (the device listener accepts only its certificates).
  std::string tls_chain_file;
  std::string tls_key_file;
  std::string device_ca_file;
  std::string relay_host_key_file;

  ListenOptions device_api;
  ListenOptions operator_api;
  ListenOptions relay;
  // What devices dial for the relay (ra_server_url): host and port.
  std::string relay_public_host;
  uint16_t relay_public_port = 0;  // 0: the relay's listening port

  api::ApiSettings settings;
  director::DirectorOptions director;
  unsigned http_threads = 0;  // 0: hardware concurrency
  size_t max_connections = 10000;
  std::chrono::milliseconds idle_timeout{120000};
};

class Daemon {
 public:
  // Opens everything and starts serving. Errors name the file or address.
  static Result<std::unique_ptr<Daemon>> Start(DaemonOptions options);
  ~Daemon();  // Stop()

  void Stop();

  uint16_t device_port() const;
  uint16_t operator_port() const;
  uint16_t relay_port() const;

 private:
  class Impl;
  explicit Daemon(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace porthole::server::daemon

#endif  // PORTHOLE_SERVER_DAEMON_DAEMON_H_
