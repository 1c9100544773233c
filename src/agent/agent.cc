#include "agent/agent.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <mutex>
#include <thread>

#include <spdlog/spdlog.h>

#include "agent/backoff.h"
#include "agent/command_runner.h"
#include "agent/privileges.h"
#include "agent/session_validity.h"
#include "core/base/exit_code.h"
#include "core/base/file.h"
#include "core/ssh/reverse_tunnel.h"
#include "core/tuf/error.h"
#include "core/tuf/rfc3339.h"
#include "core/tuf/remote_sessions.h"

namespace porthole::agent {
namespace {

using std::chrono::milliseconds;

milliseconds ToMillis(const config::Duration& d) {
  return std::max(milliseconds(1),
                  std::chrono::duration_cast<milliseconds>(d.ToChrono()));
}

void Signal(int fd) {
  uint64_t one = 1;
  ssize_t ignored = write(fd, &one, sizeof one);
  (void)ignored;
}

void Drain(int fd) {
  uint64_t n;
  ssize_t ignored = read(fd, &n, sizeof n);
  (void)ignored;
}

// Waits for `fds` (readable) up to `timeout`; the index of the first ready
// one, or -1 on timeout.
int WaitAny(std::initializer_list<int> fds, milliseconds timeout) {
  pollfd p[4];
  size_t n = 0;
  for (int fd : fds) p[n++] = {fd, POLLIN, 0};
  int64_t ms = std::clamp<int64_t>(timeout.count(), 0, 24 * 3600 * 1000);
  int r;
  do {
    r = poll(p, n, static_cast<int>(ms));
  } while (r < 0 && errno == EINTR);
  for (size_t i = 0; r > 0 && i < n; ++i) {
    if (p[i].revents != 0) return static_cast<int>(i);
  }
  return -1;
}

std::string Join(const std::vector<std::string>& v, std::string_view sep) {
  std::string out;
  for (const auto& s : v) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

// Metadata errors that say nothing about the metadata itself.
bool IsTransient(tuf::ErrorCode code) {
  return code == tuf::ErrorCode::kFetchFailed ||
         code == tuf::ErrorCode::kStateError;
}

// The reasons the verified metadata does not allow `session` (empty: it
// does), or the verification failure.
struct PolicyVerdict {
  tuf::Error error;                  // verification failed
  std::vector<std::string> reasons;  // verified, but not allowed
};

PolicyVerdict CheckPolicy(tuf::MetadataLoader& loader,
                          const tuf::DeviceSession& session) {
  PolicyVerdict v;
  tuf::ErrorOr<tuf::VerifiedMetadata> md = loader.Load();
  if (!md.ok()) {
    v.error = md.error();
    return v;
  }
  tuf::ErrorOr<tuf::SshPolicy> policy =
      tuf::ParseSshPolicy(md->remote_sessions);
  if (!policy.ok()) {
    v.reasons.push_back(policy.error().message());
    return v;
  }
  v.reasons = tuf::CheckSession(*policy, session);
  return v;
}

}  // namespace

// Re-validates the active session on its own thread (own HTTP client and
// metadata loader) and stops the tunnel through `stop_fd` when it must end.
class Agent::Validator {
 public:
  Validator(Agent* agent, const SessionPlan& plan)
      : agent_(agent), plan_(plan), expires_at_(plan.session.expires_at) {
    stop_fd_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    quit_fd_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  }
  ~Validator() { Finish(); }

  bool valid() const { return stop_fd_.valid() && quit_fd_.valid(); }
  int stop_fd() const { return stop_fd_.get(); }

  void Start() {
    thread_ = std::thread([this] { Loop(); });
  }

  // Stops the thread; the verdict ("" when the session did not become
  // invalid) is then stable.
  void Finish() {
    if (thread_.joinable()) {
      Signal(quit_fd_.get());
      thread_.join();
    }
  }
  const std::string& verdict() const { return verdict_; }
  bool invalid() const { return invalid_; }

 private:
  void Loop() {
    const milliseconds period =
        ToMillis(agent_->config_.device.validation_poll_timeout);
    auto api = ServerApi::Create(agent_->config_, agent_->tls_);
    if (!api.ok()) {
      End("cannot re-validate: " + api.status().message(), true);
      return;
    }
    tuf::MetadataLoader loader(
        agent_->config_.Absolute(agent_->config_.device.local_tuf_repo_path),
        (*api)->director(), &agent_->clock_);
    int failures = 0;
    auto next = std::chrono::steady_clock::now() + period;
    while (true) {
      auto to_next = std::chrono::duration_cast<milliseconds>(
          next - std::chrono::steady_clock::now());
      auto to_expiry = std::chrono::duration_cast<milliseconds>(
          expires_at_ - agent_->clock_.Now());
      int which = WaitAny({quit_fd_.get(), agent_->shutdown_fd_.get(),
                           agent_->wake_fd_.get()},
                          std::max(milliseconds(0), std::min(to_next, to_expiry)));
      if (which == 0) return;  // the tunnel ended on its own
      if (which == 1) return End("agent shutting down", false);
      if (which == 2) Drain(agent_->wake_fd_.get());
      if (agent_->clock_.Now() >= expires_at_) {
        return End("session expired at " + plan_.session.expires_at_text,
                   true);
      }
      if (which == -1 && std::chrono::steady_clock::now() < next) continue;
      std::string transient;
      std::string definite = Revalidate(**api, loader, &transient);
      next = std::chrono::steady_clock::now() + period;
      if (!definite.empty()) return End(definite, true);
      if (transient.empty()) {
        if (failures > 0) spdlog::info("session: re-validation works again");
        failures = 0;
        continue;
      }
      if (++failures > kGracePeriods) {
        return End("re-validation failing for " + std::to_string(failures) +
                       " periods: " + transient,
                   true);
      }
      spdlog::warn(
          "session: re-validation failed ({} of {} allowed), keeping the "
          "session: {}",
          failures, kGracePeriods, transient);
    }
  }

  // "" when the session is still valid (or only a transient failure, then
  // in *transient); otherwise why it must end.
  std::string Revalidate(ServerApi& api, tuf::MetadataLoader& loader,
                         std::string* transient) {
    Result<std::optional<tuf::DeviceSession>> fresh = api.GetSession();
    if (!fresh.ok()) {
      *transient = fresh.status().message();
      return "";
    }
    if (!fresh->has_value()) return "session gone (404)";
    const tuf::DeviceSession& s = **fresh;
    if (Change c = CompareSession(plan_, s); c != Change::kNone) {
      return std::string(ChangeName(c));
    }
    if (s.expires_at != expires_at_) {
      spdlog::info("session: expiry moved to {}", s.expires_at_text);
      expires_at_ = s.expires_at;
    }
    if (agent_->clock_.Now() >= expires_at_) {
      return "session expired at " + s.expires_at_text;
    }
    PolicyVerdict v = CheckPolicy(loader, s);
    if (!v.error.ok()) {
      if (IsTransient(v.error.code())) {
        *transient = tuf::VerifyFailureText(v.error);
        return "";
      }
      return tuf::VerifyFailureText(v.error);
    }
    if (!v.reasons.empty()) {
      return "metadata no longer allows the session: " + Join(v.reasons, "; ");
    }
    spdlog::debug("session: still valid");
    return "";
  }

  void End(std::string verdict, bool invalid) {
    verdict_ = std::move(verdict);
    invalid_ = invalid;
    Signal(stop_fd_.get());
  }

  Agent* const agent_;
  const SessionPlan& plan_;
  SystemTime expires_at_;
  UniqueFd stop_fd_;  // tells the tunnel to stop
  UniqueFd quit_fd_;  // tells this thread to stop
  std::thread thread_;
  std::string verdict_;
  bool invalid_ = false;
};

Agent::Agent(config::AgentConfig config)
    : config_(std::move(config)), clock_(Clock::Real()) {
  shutdown_fd_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  wake_fd_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  commands_wake_fd_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  status_.session_state = "starting";
  status_.mode = std::string(config::SessionModeName(config_.device.session));
}

Agent::~Agent() {
  Shutdown();
  dbus_.reset();
  if (commands_thread_.joinable()) commands_thread_.join();
}

void Agent::Shutdown() {
  shutting_down_.store(true);
  Signal(shutdown_fd_.get());
}

void Agent::PollNow() {
  Signal(wake_fd_.get());
  Signal(commands_wake_fd_.get());
}

AgentStatus Agent::status() const {
  std::lock_guard<std::mutex> lock(status_mu_);
  return status_;
}

void Agent::SetStatus(const std::function<void(AgentStatus&)>& edit) {
  std::lock_guard<std::mutex> lock(status_mu_);
  edit(status_);
}

void Agent::CommandsLoop() {
  const milliseconds poll = ToMillis(config_.device.poll_timeout);
  Result<std::unique_ptr<http::HttpClient>> http =
      http::MakeCurlHttpClient(tls_);
  Result<std::unique_ptr<ServerApi>> director =
      ServerApi::Create(config_, tls_);
  if (!http.ok() || !director.ok()) {
    spdlog::error("commands: cannot start: {}",
                  (!http.ok() ? http.status() : director.status()).message());
    return;
  }
  tuf::MetadataLoader loader(
      config_.Absolute(config_.device.local_tuf_repo_path),
      (*director)->director(), &clock_);
  CommandRunner runner(
      config_, http->get(), [&loader] { return loader.Load(); },
      CommandLines(), clock_);
  std::string last;
  while (!shutting_down_.load()) {
    Status s = runner.PollOnce();
    if (!s.ok() && s.message() != last) {
      spdlog::warn("commands: {}", s.message());
    } else if (s.ok() && !last.empty()) {
      spdlog::info("commands: polling works again");
    }
    last = s.ok() ? "" : s.message();
    const size_t pending = runner.PendingCount();
    SetStatus([&](AgentStatus& st) {
      st.pending_commands = static_cast<uint32_t>(pending);
      if (!s.ok()) st.last_error = "commands: " + s.message();
    });
    int which = WaitAny({shutdown_fd_.get(), commands_wake_fd_.get()}, poll);
    if (which == 1) Drain(commands_wake_fd_.get());
  }
}

bool Agent::Sleep(milliseconds timeout) {
  int which = WaitAny({shutdown_fd_.get(), wake_fd_.get()}, timeout);
  if (which == 1) {
    Drain(wake_fd_.get());
    retry_at_ = {};  // "poll now" retries a refused session too
  }
  return !shutting_down_.load();
}

void Agent::Problem(const std::string& message) {
  SetStatus([&](AgentStatus& st) { st.last_error = message; });
  if (message == last_problem_) {
    spdlog::debug("{}", message);
    return;
  }
  spdlog::warn("{}", message);
  last_problem_ = message;
}

Status Agent::StartUp() {
  if (!shutdown_fd_.valid() || !wake_fd_.valid() ||
      !commands_wake_fd_.valid()) {
    return PosixError("eventfd", errno);
  }
  // Certificates first (as root), so an unusable configuration creates no
  // key files and nothing needs them on disk after the privilege drop.
  PH_ASSIGN_OR_RETURN(tls_, ServerApi::LoadTls(config_));
  if (geteuid() == 0) {
    if (const auto& who = config_.device.unprivileged_user_group) {
      PH_RETURN_IF_ERROR(DropPrivileges(*who));
      spdlog::info("running as {} (privileges dropped)", who->ToString());
    } else {
      spdlog::warn(
          "running as root: set device.unprivileged_user_group (RAC runs as "
          "torizon:torizon) to drop privileges after start-up");
    }
  }
  const std::string key_path =
      config_.Absolute(config_.device.ssh_private_key_path);
  PH_RETURN_IF_ERROR(CheckWritable(
      "device.local_tuf_repo_path",
      config_.Absolute(config_.device.local_tuf_repo_path)));
  PH_RETURN_IF_ERROR(CheckWritable(
      "device.commands_dir", config_.Absolute(config_.device.commands_dir)));
  if (!PathExists(key_path)) {
    PH_RETURN_IF_ERROR(
        CheckWritable("device.ssh_private_key_path", key_path));
  }
  if (const auto* spawned = std::get_if<config::SpawnedSshdSession>(
          &config_.device.session)) {
    PH_RETURN_IF_ERROR(
        CheckWritable("device.session.spawned_sshd.config_dir",
                      config_.Absolute(spawned->config_dir)));
  }
  PH_ASSIGN_OR_RETURN(api_, ServerApi::Create(config_, tls_));
  PH_ASSIGN_OR_RETURN(ssh::PrivateKey key,
                      ssh::PrivateKey::LoadOrCreate(key_path));
  spdlog::info("device key {} ({})", key_path,
               key.public_key().Fingerprint());
  device_key_ = std::make_unique<ssh::PrivateKey>(std::move(key));
  local_ = MakeLocalSession(config_);
  PH_RETURN_IF_ERROR(local_->Prepare());
  loader_ = std::make_unique<tuf::MetadataLoader>(
      config_.Absolute(config_.device.local_tuf_repo_path), api_->director(),
      &clock_);
  return Status::Ok();
}

int Agent::Run() {
  if (Status s = StartUp(); !s.ok()) {
    spdlog::error("cannot start: {}", s.message());
    return kExitFailure;
  }
  commands_thread_ = std::thread([this] { CommandsLoop(); });
  if (config_.device.enable_dbus_client) {
    dbus_ = std::make_unique<DbusService>(
        DbusOptions(), [this] { PollNow(); }, [this] { return status(); });
    if (Status s = dbus_->Start(); !s.ok()) {
      spdlog::error("D-Bus: {}", s.message());
    }
  }
  SetStatus([](AgentStatus& st) { st.session_state = "idle"; });
  spdlog::info("polling {} every {} (mode {})", config_.torizon.SessionsUrl(),
               config::FormatDuration(config_.device.poll_timeout),
               config::SessionModeName(config_.device.session));
  const milliseconds poll = ToMillis(config_.device.poll_timeout);
  Backoff backoff({.initial = std::min(poll, milliseconds(1000)),
                   .max = std::max(poll, milliseconds(60000))});
  // Retrying one refused session (policy, relay, local start failures).
  Backoff session_backoff({.initial = std::max(poll, milliseconds(1000)),
                           .max = std::max(poll, milliseconds(60000))});
  bool registered = false;
  while (!shutting_down_.load()) {
    if (!registered) {
      Status s = api_->RegisterKey(device_key_->PublicKeyLine());
      if (!s.ok()) {
        Problem("cannot register the device key (retrying): " + s.message());
        if (!Sleep(backoff.Next())) break;
        continue;
      }
      spdlog::info("device key registered");
      ClearProblem();
      backoff.Reset();
      registered = true;
    }
    Result<std::optional<tuf::DeviceSession>> r = api_->GetSession();
    SetStatus([&](AgentStatus& st) {
      st.last_poll_time = tuf::FormatRfc3339(clock_.Now());
      st.last_poll_result = !r.ok()               ? "error"
                            : r->has_value()      ? "session"
                                                  : "no session";
    });
    if (!r.ok()) {
      Problem("cannot poll for a session (retrying): " + r.status().message());
      if (!Sleep(backoff.Next())) break;
      continue;
    }
    if (!r->has_value()) {
      if (!last_problem_.empty()) spdlog::info("no session");
      ClearProblem();
      refused_.reset();
      backoff.Reset();
      if (!Sleep(poll)) break;
      continue;
    }
    backoff.Reset();
    const tuf::DeviceSession& session = **r;
    if (refused_ && *refused_ == session &&
        std::chrono::steady_clock::now() < retry_at_) {
      if (!Sleep(poll)) break;
      continue;
    }
    if (!refused_ || !(*refused_ == session)) session_backoff.Reset();
    if (RunSession(session) == Outcome::kEnded) {
      refused_.reset();
    } else {
      refused_ = session;
      retry_at_ = std::chrono::steady_clock::now() + session_backoff.Next();
    }
    if (!Sleep(poll)) break;
  }
  dbus_.reset();
  if (commands_thread_.joinable()) commands_thread_.join();
  spdlog::info("stopped");
  return kExitSuccess;
}

Agent::Outcome Agent::RunSession(const tuf::DeviceSession& session) {
  if (Expired(session, clock_.Now())) {
    Problem("session expired at " + session.expires_at_text +
            "; not connecting");
    return Outcome::kRefused;
  }
  Result<SessionPlan> planned = PlanSession(session);
  if (!planned.ok()) {
    Problem("invalid session received from server: " +
            planned.status().message());
    return Outcome::kRefused;
  }
  const SessionPlan& plan = *planned;
  PolicyVerdict v = CheckPolicy(*loader_, session);
  if (!v.error.ok()) {
    Problem(tuf::VerifyFailureText(v.error));
    return Outcome::kRefused;
  }
  if (!v.reasons.empty()) {
    Problem("invalid session received from server: " + Join(v.reasons, "; "));
    return Outcome::kRefused;
  }
  if (Status s = local_->Start(plan); !s.ok()) {
    Problem("cannot start the local session: " + s.message());
    local_->Stop();
    return Outcome::kRefused;
  }

  std::string end_text;
  {
    ssh::ReverseTunnel tunnel({
        .host = plan.relay_host,
        .port = plan.relay_port,
        .user = plan.relay_user,
        .device_key = device_key_.get(),
        .relay_host_key = session.ra_server_ssh_pubkey,
        .reverse_port = session.reverse_port,
        .handler =
            [this](const ssh::ForwardedConnection& from) {
              return local_->Open(from);
            },
    });
    if (ssh::Error e = tunnel.Connect(); !e.ok()) {
      Problem("session: cannot open the tunnel: " + e.message());
      local_->Stop();
      return Outcome::kRefused;
    }
    ClearProblem();
    SetStatus([&](AgentStatus& st) {
      st.session_state = "active";
      st.relay = plan.relay_host + ":" + std::to_string(plan.relay_port);
      st.last_error.clear();
    });
    spdlog::info(
        "session: tunnel up: relay {}:{} as {}, reverse port {}, mode {}, "
        "{} operator key(s), expires at {}",
        plan.relay_host, plan.relay_port, plan.relay_user, tunnel.bound_port(),
        config::SessionModeName(config_.device.session),
        plan.operator_keys.size(), session.expires_at_text);
    Validator validator(this, plan);
    if (!validator.valid()) {
      local_->Stop();
      Problem("session: " + PosixError("eventfd", errno).message());
      return Outcome::kRefused;
    }
    validator.Start();
    ssh::RunEnd end = tunnel.Run({
        .stop_fd = validator.stop_fd(),
        .tick_interval = milliseconds(1000),
        .on_tick =
            [this] {
              local_->Tick();
              return ssh::TickAction::kContinue;
            },
    });
    validator.Finish();
    if (!validator.verdict().empty()) {
      end_text = validator.verdict();
      tunnel.Disconnect(validator.invalid() ? "disconnect, session not valid"
                                            : "disconnect, agent stopping");
    } else {
      end_text = std::string(ssh::EndReasonName(end.reason)) + ": " +
                 end.detail;
      tunnel.Disconnect("disconnect");
    }
  }
  local_->Stop();
  SetStatus([&](AgentStatus& st) {
    st.session_state = "idle";
    st.relay.clear();
  });
  spdlog::info("session: ended: {}", end_text);
  return Outcome::kEnded;
}

}  // namespace porthole::agent
