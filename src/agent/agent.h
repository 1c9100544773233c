// The porthole-agent daemon: registers the device key, polls the server for
// a session, verifies it against the signed remote-sessions metadata, opens
// the reverse tunnel to the relay and serves it with the configured local
// session mode, re-validating it until it ends (PROTOCOL.md 1, 3, 4 with the
// fixes of 13).
//
// Threads: Run() is the session thread (polls, the tunnel's event loop and
// the local session all run there). While a session is up, a validator
// thread re-checks it every validation_poll_timeout with its own HTTP
// client, and cuts the tunnel through an eventfd when it must end:
//   - definite answers cut at once: 404 (session gone), keys / reverse port /
//     relay URL / relay key changed, metadata that fails verification or no
//     longer allows the session, expires_at reached (at that instant);
//   - transient failures (transport, 5xx, metadata fetch errors) are
//     retried and cut the session only when they persist for
//     kGracePeriods validation periods.
// Every problem is logged once (repeats at debug level) and retried with
// capped, jittered back-off; nothing network-related ends the process.
#ifndef PORTHOLE_AGENT_AGENT_H_
#define PORTHOLE_AGENT_AGENT_H_

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "agent/dbus/dbus_service.h"
#include "agent/local_session.h"
#include "agent/server_api.h"
#include "core/base/clock.h"
#include "core/base/unique_fd.h"
#include "core/config/agent_config.h"
#include "core/ssh/device_key.h"
#include "core/tuf/loader.h"

namespace porthole::agent {

inline constexpr int kGracePeriods = 3;

class Agent {
 public:
  explicit Agent(config::AgentConfig config);
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Runs until Shutdown(). Start-up: the TLS material is read, then (as
  // root, with unprivileged_user_group) privileges are dropped for good,
  // then the paths the agent writes are checked, the device key loaded or
  // made and the session mode prepared. Returns the process exit code: 0
  // after a shutdown, 1 when start-up fails (unusable key, certificate,
  // user, path or session mode; the message has been logged). Must be
  // called before any other thread exists (the privilege drop).
  int Run();

  // Ends Run(): an active session is disconnected and cleaned up first.
  // Async-signal-safe and thread-safe.
  void Shutdown();

  // Polls for a session now, or re-validates the active one now, and polls
  // for commands now (the D-Bus "poll now" hook, SIGUSR1). Calls coalesce.
  // Thread-safe and async-signal-safe.
  void PollNow();

  // What `porthole-agent status` shows. Thread-safe.
  AgentStatus status() const;

 private:
  // kEnded: the session ran (tunnel up) and is over; kRefused: it was not
  // used (invalid, expired, not verified, relay or local start failed).
  enum class Outcome { kEnded, kRefused };
  class Validator;

  Status StartUp();
  Outcome RunSession(const tuf::DeviceSession& session);
  // Waits up to `timeout` or until woken; false if shutting down.
  bool Sleep(std::chrono::milliseconds timeout);
  // Logs `message` at warning level unless it repeats the last one.
  void Problem(const std::string& message);
  void ClearProblem() { last_problem_.clear(); }
  // The remote-commands loop (PROTOCOL.md 5), on its own thread with its
  // own HTTP client and metadata loader, concurrently with any session.
  void CommandsLoop();
  void SetStatus(const std::function<void(AgentStatus&)>& edit);

  const config::AgentConfig config_;
  const Clock& clock_;
  UniqueFd shutdown_fd_;  // eventfd; readable forever once shut down
  UniqueFd wake_fd_;      // eventfd; PollNow(): sessions
  UniqueFd commands_wake_fd_;  // eventfd; PollNow(): commands
  std::atomic<bool> shutting_down_{false};

  http::TlsClientConfig tls_;  // read once, before the privilege drop
  std::unique_ptr<ssh::PrivateKey> device_key_;
  std::unique_ptr<LocalSession> local_;
  std::unique_ptr<ServerApi> api_;
  std::unique_ptr<tuf::MetadataLoader> loader_;
  std::string last_problem_;
  // The last session that was refused or failed, and when to try it again:
  // the same session is retried with back-off, a different one at once.
  std::optional<tuf::DeviceSession> refused_;
  std::chrono::steady_clock::time_point retry_at_;

  std::thread commands_thread_;
  std::unique_ptr<DbusService> dbus_;
  mutable std::mutex status_mu_;
  AgentStatus status_;  // guarded by status_mu_
};

}  // namespace porthole::agent

#endif  // PORTHOLE_AGENT_AGENT_H_
