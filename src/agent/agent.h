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
//
// With porthole-server's extensions (docs/device-api-extensions.md,
// server_extensions.h) the idle poll, the validator and the commands loop
// long-poll, so a new, changed or removed session and a new command are
// seen within a round trip; host keys are POSTed once announced.
//
// "Poll now" (PollNow: SIGUSR1, D-Bus) also cuts a held long poll; each
// consumer acts on it at most once per kPollNowInterval, so a burst of
// signals costs a few polls, the last signal is never lost, and it is
// acted on within kPollNowInterval plus a round trip.
//
// Stopping: Shutdown() (SIGTERM) ends the session cleanly (relay
// disconnected, sshd children ended, session keys removed), cancels every
// HTTP request and ends a running remote command's process group (its
// failed result is kept pending for the next start); Run() returns within
// about a second. A reload (RequestReload's eventfd, SIGHUP) that changes
// settings stops the same way but lets a running command finish, and
// Run() returns with TakeReloadedConfig() set (reload.h says what a
// reload can change).
#ifndef PORTHOLE_AGENT_AGENT_H_
#define PORTHOLE_AGENT_AGENT_H_

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "agent/backoff.h"
#include "agent/dbus/dbus_service.h"
#include "agent/local_session.h"
#include "agent/server_api.h"
#include "agent/server_extensions.h"
#include "core/base/clock.h"
#include "core/base/unique_fd.h"
#include "core/config/agent_config.h"
#include "core/ssh/device_key.h"
#include "core/tuf/loader.h"

namespace porthole::agent {

inline constexpr int kGracePeriods = 3;
inline constexpr std::chrono::milliseconds kPollNowInterval{250};

// What the process gives an Agent beyond its configuration.
struct AgentHooks {
  // Reads the configuration again (SIGHUP): the same file and environment
  // as at start. Unset: reloads are ignored with a log line.
  std::function<Result<config::AgentConfig>()> load_config;
  // An eventfd that a SIGHUP handler writes; owned by the caller, read by
  // the agent. -1: none.
  int reload_fd = -1;
  // The TLS material of the agent this one replaces after a reload: used
  // when the files cannot be read any more (privileges dropped).
  std::optional<http::TlsClientConfig> previous_tls;
};

class Agent {
 public:
  explicit Agent(config::AgentConfig config, AgentHooks hooks = {});
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

  // Ends Run(): an active session is disconnected and cleaned up first, a
  // running remote command is ended (above). Async-signal-safe and
  // thread-safe.
  void Shutdown();

  // After Run() returned: the configuration a reload asked to restart
  // with (nullopt after a shutdown), and the TLS material in use (for
  // AgentHooks::previous_tls).
  std::optional<config::AgentConfig> TakeReloadedConfig() {
    return std::move(reloaded_);
  }
  const http::TlsClientConfig& tls() const { return tls_; }

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
  // Waits up to `timeout` or until woken; false if stopping.
  bool Sleep(std::chrono::milliseconds timeout);
  // Woken through wake_fd_: waits out kPollNowInterval since the last
  // time (false if stopping meanwhile), then drains it.
  bool AdmitPollNow(std::chrono::steady_clock::time_point* last);
  // POSTs the session server's host keys when the server announced
  // host-keys and this agent has not yet (retried with back-off).
  void MaybePostHostKeys();
  // "agent shutting down" or "configuration reloaded".
  std::string StopReason() const;
  // The reload thread: waits for hooks_.reload_fd and decides.
  void ReloadLoop();
  // Stops Run() (and every thread of the agent); `terminate` also ends a
  // running command.
  void Stop(bool terminate);
  // Logs `message` at warning level unless it repeats the last one.
  void Problem(const std::string& message);
  void ClearProblem() { last_problem_.clear(); }
  // The remote-commands loop (PROTOCOL.md 5), on its own thread with its
  // own HTTP client and metadata loader, concurrently with any session.
  void CommandsLoop();
  void SetStatus(const std::function<void(AgentStatus&)>& edit);

  const config::AgentConfig config_;
  AgentHooks hooks_;
  const Clock& clock_;
  UniqueFd stop_fd_;           // eventfd; readable forever once stopping
  UniqueFd terminate_fd_;      // eventfd; readable forever after Shutdown()
  UniqueFd wake_fd_;           // eventfd; PollNow(): sessions
  UniqueFd commands_wake_fd_;  // eventfd; PollNow(): commands
  std::atomic<bool> stopping_{false};
  std::atomic<bool> reloading_{false};
  std::optional<config::AgentConfig> reloaded_;  // set before stop_fd_

  ExtensionState extensions_;
  std::unique_ptr<LongPoll> session_poll_;  // the idle sessions poll
  std::chrono::steady_clock::time_point last_poll_now_;
  std::vector<std::string> host_keys_;  // of the session server, if any
  bool host_keys_posted_ = false;
  std::unique_ptr<Backoff> host_keys_backoff_;
  std::chrono::steady_clock::time_point host_keys_retry_at_;

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
  std::thread reload_thread_;
  std::unique_ptr<DbusService> dbus_;
  mutable std::mutex status_mu_;
  AgentStatus status_;  // guarded by status_mu_
};

}  // namespace porthole::agent

#endif  // PORTHOLE_AGENT_AGENT_H_
