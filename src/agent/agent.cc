#include "agent/agent.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <mutex>
#include <thread>

#include <spdlog/spdlog.h>

#include "agent/backoff.h"
#include "agent/command_runner.h"
#include "agent/privileges.h"
#include "agent/reload.h"
#include "agent/session_validity.h"
#include "core/base/exit_code.h"
#include "core/base/file.h"
#include "core/ssh/reverse_tunnel.h"
#include "core/tuf/error.h"
#include "core/tuf/remote_sessions.h"
#include "core/tuf/rfc3339.h"

namespace porthole::agent {
namespace {

using std::chrono::milliseconds;

// Forwarded connections one tunnel serves at once (operators' ssh, scp,
// -L...): as many as the relay lets one device connection carry
// (server/relay/relay.h, max_channels_per_connection), since every
// operator of the session shares the tunnel. ReverseTunnel's default (64)
// refused the 65th of 100 parallel sessions.
constexpr size_t kMaxTunnelChannels = 256;

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

bool Readable(int fd) {
  pollfd p = {fd, POLLIN, 0};
  return poll(&p, 1, 0) > 0;
}

// Waits for `fds` (readable) up to `timeout`; the index of the first ready
// one, or -1 on timeout.
int WaitAny(std::initializer_list<int> fds, milliseconds timeout) {
  pollfd p[6];
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
// With the long-poll extension it long-polls `sessions` (wait at most
// validation_poll_timeout) and re-validates on every answer; otherwise
// every validation_poll_timeout. A timerfd cuts at expires_at, also in the
// middle of a long poll.
class Agent::Validator {
 public:
  Validator(Agent* agent, const SessionPlan& plan, std::string seen_tag)
      : agent_(agent),
        plan_(plan),
        expires_at_(plan.session.expires_at),
        seen_tag_(std::move(seen_tag)) {
    stop_fd_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    quit_fd_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    expiry_fd_.reset(
        timerfd_create(CLOCK_REALTIME, TFD_CLOEXEC | TFD_NONBLOCK));
  }
  ~Validator() { Finish(); }

  bool valid() const {
    return stop_fd_.valid() && quit_fd_.valid() && expiry_fd_.valid();
  }
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
  void ArmExpiry() {
    itimerspec t = {};
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                  expires_at_.time_since_epoch())
                  .count();
    if (ns <= 0) ns = 1;
    t.it_value.tv_sec = static_cast<time_t>(ns / 1000000000);
    t.it_value.tv_nsec = static_cast<long>(ns % 1000000000);
    timerfd_settime(expiry_fd_.get(), TFD_TIMER_ABSTIME, &t, nullptr);
  }

  void Loop() {
    const milliseconds period =
        ToMillis(agent_->config_.device.validation_poll_timeout);
    auto api =
        ServerApi::Create(agent_->config_, agent_->tls_, &agent_->extensions_);
    if (!api.ok()) {
      End("cannot re-validate: " + api.status().message(), true);
      return;
    }
    (*api)->SetCancelFds({quit_fd_.get(), agent_->stop_fd_.get()});
    tuf::MetadataLoader loader(
        agent_->config_.Absolute(agent_->config_.device.local_tuf_repo_path),
        (*api)->director(), &agent_->clock_);
    LongPoll long_poll(&agent_->extensions_,
                       agent_->config_.porthole.long_poll_wait,
                       ToMillis(agent_->config_.torizon.http_timeout));
    long_poll.Seed(seen_tag_);
    ArmExpiry();
    std::chrono::steady_clock::time_point last_poll_now;
    int failures = 0;
    auto next = std::chrono::steady_clock::now() + period;
    // Poll at once: the long poll's last answer allows it, or "poll now".
    bool at_once = long_poll.Wait(period) > 0;
    while (true) {
      if (!at_once) {
        auto to_next = std::chrono::duration_cast<milliseconds>(
            next - std::chrono::steady_clock::now());
        int which = WaitAny({quit_fd_.get(), agent_->stop_fd_.get(),
                             agent_->wake_fd_.get(), expiry_fd_.get()},
                            std::max(milliseconds(0), to_next));
        if (which == 0) return;  // the tunnel ended on its own
        if (which == 1) return End(agent_->StopReason(), false);
        if (which == 3) return Expired();
        if (which == 2 && !agent_->AdmitPollNow(&last_poll_now)) {
          return End(agent_->StopReason(), false);
        }
        if (which == -1 && std::chrono::steady_clock::now() < next) continue;
        if (which == 2) long_poll.Forget();  // answered at once
      }
      at_once = false;
      if (agent_->clock_.Now() >= expires_at_) return Expired();
      Result<std::optional<tuf::DeviceSession>> fresh = (*api)->GetSession(
          {.long_poll = &long_poll,
           .cap = period,
           .cancel_fds = {agent_->wake_fd_.get(), expiry_fd_.get()}});
      if (!fresh.ok()) {
        if (Readable(quit_fd_.get())) return;
        if (agent_->stopping_.load()) return End(agent_->StopReason(), false);
        if (Readable(expiry_fd_.get())) return Expired();
        if (Readable(agent_->wake_fd_.get())) {
          if (!agent_->AdmitPollNow(&last_poll_now)) {
            return End(agent_->StopReason(), false);
          }
          at_once = true;  // a fresh, ordinary answer
          continue;
        }
      }
      std::string transient;
      std::string definite = Revalidate(fresh, loader, &transient);
      next = std::chrono::steady_clock::now() + period;
      if (!definite.empty()) return End(definite, true);
      if (transient.empty()) {
        if (failures > 0) spdlog::info("session: re-validation works again");
        failures = 0;
        at_once = long_poll.Wait(period) > 0 && long_poll.AgainAtOnce();
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

  void Expired() {
    End("session expired at " + plan_.session.expires_at_text, true);
  }

  // "" when the session is still valid (or only a transient failure, then
  // in *transient); otherwise why it must end. `fresh` is the answer of
  // GET sessions.
  std::string Revalidate(const Result<std::optional<tuf::DeviceSession>>& fresh,
                         tuf::MetadataLoader& loader, std::string* transient) {
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
      ArmExpiry();
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
  const std::string seen_tag_;
  UniqueFd stop_fd_;    // tells the tunnel to stop
  UniqueFd quit_fd_;    // tells this thread to stop
  UniqueFd expiry_fd_;  // timerfd: expires_at (CLOCK_REALTIME)
  std::thread thread_;
  std::string verdict_;
  bool invalid_ = false;
};

Agent::Agent(config::AgentConfig config, AgentHooks hooks)
    : config_(std::move(config)),
      hooks_(std::move(hooks)),
      clock_(Clock::Real()) {
  stop_fd_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  terminate_fd_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  wake_fd_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  commands_wake_fd_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  session_poll_ =
      std::make_unique<LongPoll>(&extensions_, config_.porthole.long_poll_wait,
                                 ToMillis(config_.torizon.http_timeout));
  status_.session_state = "starting";
  status_.mode = std::string(config::SessionModeName(config_.device.session));
}

Agent::~Agent() {
  Stop(true);
  dbus_.reset();
  if (commands_thread_.joinable()) commands_thread_.join();
  if (reload_thread_.joinable()) reload_thread_.join();
}

void Agent::Shutdown() { Stop(true); }

void Agent::Stop(bool terminate) {
  stopping_.store(true);
  if (terminate) Signal(terminate_fd_.get());
  Signal(stop_fd_.get());
}

std::string Agent::StopReason() const {
  return reloading_.load() ? "configuration reloaded" : "agent shutting down";
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

bool Agent::AdmitPollNow(std::chrono::steady_clock::time_point* last) {
  auto ready = *last + kPollNowInterval;
  auto now = std::chrono::steady_clock::now();
  if (now < ready) {
    int which = WaitAny({stop_fd_.get()},
                        std::chrono::duration_cast<milliseconds>(ready - now) +
                            milliseconds(1));
    if (which == 0) return false;
  }
  Drain(wake_fd_.get());
  *last = std::chrono::steady_clock::now();
  return !stopping_.load();
}

void Agent::CommandsLoop() {
  const milliseconds poll = ToMillis(config_.device.poll_timeout);
  Result<std::unique_ptr<http::HttpClient>> http =
      http::MakeCurlHttpClient(tls_);
  Result<std::unique_ptr<ServerApi>> director =
      ServerApi::Create(config_, tls_, &extensions_);
  if (!http.ok() || !director.ok()) {
    spdlog::error("commands: cannot start: {}",
                  (!http.ok() ? http.status() : director.status()).message());
    return;
  }
  std::unique_ptr<http::HttpClient> client =
      TrackExtensions(std::move(http).value(), &extensions_);
  (*director)->SetCancelFds({stop_fd_.get()});
  tuf::MetadataLoader loader(
      config_.Absolute(config_.device.local_tuf_repo_path),
      (*director)->director(), &clock_);
  CommandRunner runner(
      config_, client.get(), [&loader] { return loader.Load(); },
      CommandLines::FromConfig(config_.porthole), clock_);
  runner.SetInterrupts({.stop_fds = {stop_fd_.get()},
                        .poll_now_fds = {commands_wake_fd_.get()},
                        .cancel_command_fd = terminate_fd_.get()});
  LongPoll long_poll(&extensions_, config_.porthole.long_poll_wait,
                     ToMillis(config_.torizon.http_timeout));
  runner.SetLongPoll(&long_poll);
  std::string last;
  std::chrono::steady_clock::time_point last_poll_now;
  auto admit = [&] {
    // As AdmitPollNow, for the commands eventfd.
    auto ready = last_poll_now + kPollNowInterval;
    auto now = std::chrono::steady_clock::now();
    if (now < ready &&
        WaitAny({stop_fd_.get()},
                std::chrono::duration_cast<milliseconds>(ready - now) +
                    milliseconds(1)) == 0) {
      return false;
    }
    Drain(commands_wake_fd_.get());
    last_poll_now = std::chrono::steady_clock::now();
    return !stopping_.load();
  };
  while (!stopping_.load()) {
    Status s = runner.PollOnce();
    if (stopping_.load()) break;
    if (!s.ok() && Readable(commands_wake_fd_.get())) {
      // "Poll now" cut a held GET commands: poll again, quietly.
      if (!admit()) break;
      long_poll.Forget();
      continue;
    }
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
    if (s.ok() && long_poll.AgainAtOnce()) continue;
    int which = WaitAny({stop_fd_.get(), commands_wake_fd_.get()}, poll);
    if (which == 1 && !admit()) break;
  }
}

bool Agent::Sleep(milliseconds timeout) {
  int which = WaitAny({stop_fd_.get(), wake_fd_.get()}, timeout);
  if (which == 1) {
    if (!AdmitPollNow(&last_poll_now_)) return false;
    retry_at_ = {};  // "poll now" retries a refused session too
    session_poll_->Forget();
  }
  return !stopping_.load();
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

void Agent::MaybePostHostKeys() {
  if (host_keys_posted_ || host_keys_.empty() || !extensions_.Get().host_keys ||
      std::chrono::steady_clock::now() < host_keys_retry_at_) {
    return;
  }
  Status s = api_->PostHostKeys(host_keys_);
  if (s.ok()) {
    spdlog::info("host keys: {} key(s) sent to the server", host_keys_.size());
    host_keys_posted_ = true;
    return;
  }
  if (stopping_.load()) return;
  if (!host_keys_backoff_) {
    host_keys_backoff_ = std::make_unique<Backoff>(Backoff::Options{
        .initial = milliseconds(1000), .max = milliseconds(60000)});
  }
  const milliseconds delay = host_keys_backoff_->Next();
  spdlog::warn("host keys: not sent (again in {} ms): {}", delay.count(),
               s.message());
  host_keys_retry_at_ = std::chrono::steady_clock::now() + delay;
}

void Agent::ReloadLoop() {
  while (true) {
    int which =
        WaitAny({stop_fd_.get(), hooks_.reload_fd}, std::chrono::hours(1));
    if (which == -1) continue;
    if (which == 0 || stopping_.load()) return;
    Drain(hooks_.reload_fd);
    if (!hooks_.load_config) {
      spdlog::warn("reload: not supported here; ignoring SIGHUP");
      continue;
    }
    Result<config::AgentConfig> loaded = hooks_.load_config();
    Status tls;
    if (loaded.ok()) tls = ServerApi::LoadTls(*loaded).status();
    ReloadDecision d =
        DecideReload(config_, std::move(loaded), tls, geteuid() == 0);
    switch (d.kind) {
      case ReloadDecision::Kind::kKeep:
        spdlog::error("{}", d.message);
        break;
      case ReloadDecision::Kind::kUnchanged:
        spdlog::info("{}", d.message);
        break;
      case ReloadDecision::Kind::kRestart:
        spdlog::info("{}", d.message);
        for (const std::string& note : d.notes) spdlog::warn("{}", note);
        reloaded_ = std::move(d.next);
        reloading_.store(true);
        Stop(false);
        return;
    }
  }
}

Status Agent::StartUp() {
  if (!stop_fd_.valid() || !terminate_fd_.valid() || !wake_fd_.valid() ||
      !commands_wake_fd_.valid()) {
    return PosixError("eventfd", errno);
  }
  // Certificates first (as root), so an unusable configuration creates no
  // key files and nothing needs them on disk after the privilege drop.
  // After a reload the files may be root's while the agent no longer is:
  // the material read at start stays in use.
  Result<http::TlsClientConfig> tls = ServerApi::LoadTls(config_);
  if (!tls.ok() && hooks_.previous_tls && geteuid() != 0) {
    spdlog::warn(
        "{}: using the certificate and key read before the privilege drop",
        tls.status().message());
    http::TlsClientConfig kept = *hooks_.previous_tls;
    kept.timeout = ToMillis(config_.torizon.http_timeout);
    kept.ats_namespace = config_.torizon.ats_namespace.value_or("");
    tls = std::move(kept);
  }
  PH_ASSIGN_OR_RETURN(tls_, std::move(tls));
  if (geteuid() == 0) {
    if (const auto& who = config_.device.unprivileged_user_group) {
      PH_RETURN_IF_ERROR(DropPrivileges(*who));
      spdlog::info(
          "running as {} (privileges dropped; setuid(0) refused as it must "
          "be)",
          who->ToString());
    } else {
      spdlog::warn(
          "running as root: set device.unprivileged_user_group (RAC runs as "
          "torizon:torizon) to drop privileges after start-up");
    }
  }
  const std::string key_path =
      config_.Absolute(config_.device.ssh_private_key_path);
  PH_RETURN_IF_ERROR(
      CheckWritable("device.local_tuf_repo_path",
                    config_.Absolute(config_.device.local_tuf_repo_path)));
  PH_RETURN_IF_ERROR(CheckWritable(
      "device.commands_dir", config_.Absolute(config_.device.commands_dir)));
  if (!PathExists(key_path)) {
    PH_RETURN_IF_ERROR(CheckWritable("device.ssh_private_key_path", key_path));
  }
  if (const auto* spawned =
          std::get_if<config::SpawnedSshdSession>(&config_.device.session)) {
    PH_RETURN_IF_ERROR(CheckWritable("device.session.spawned_sshd.config_dir",
                                     config_.Absolute(spawned->config_dir)));
  }
  PH_ASSIGN_OR_RETURN(api_, ServerApi::Create(config_, tls_, &extensions_));
  api_->SetCancelFds({stop_fd_.get()});
  PH_ASSIGN_OR_RETURN(ssh::PrivateKey key,
                      ssh::PrivateKey::LoadOrCreate(key_path));
  spdlog::info("device key {} ({})", key_path, key.public_key().Fingerprint());
  device_key_ = std::make_unique<ssh::PrivateKey>(std::move(key));
  local_ = MakeLocalSession(config_);
  PH_RETURN_IF_ERROR(local_->Prepare());
  host_keys_ = local_->HostKeys();
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
  if (hooks_.reload_fd >= 0) {
    reload_thread_ = std::thread([this] { ReloadLoop(); });
  }
  if (config_.device.enable_dbus_client) {
    DbusOptions bus;
    bus.bus = config_.porthole.dbus_bus == config::DbusBus::kSystem
                  ? BusKind::kSystem
                  : BusKind::kSession;
    dbus_ = std::make_unique<DbusService>(
        bus, [this] { PollNow(); }, [this] { return status(); });
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
  bool long_polling = false;  // logged when it changes
  // Says when the server starts or stops offering long polls.
  auto note_long_poll = [&] {
    const uint32_t wait = session_poll_->Wait();
    if ((wait > 0) == long_polling) return;
    long_polling = wait > 0;
    if (long_polling) {
      spdlog::info("the server offers long polls: waiting up to {} s", wait);
    } else {
      spdlog::info("no long polls: polling every {}",
                   config::FormatDuration(config_.device.poll_timeout));
    }
  };
  // After an answer: at once when the long poll allows it, else
  // poll_timeout (or a "poll now").
  auto next_poll = [&]() {
    if (session_poll_->AgainAtOnce()) return !stopping_.load();
    return Sleep(poll);
  };
  while (!stopping_.load()) {
    if (!registered) {
      Status s = api_->RegisterKey(device_key_->PublicKeyLine());
      if (!s.ok()) {
        if (stopping_.load()) break;
        Problem("cannot register the device key (retrying): " + s.message());
        if (!Sleep(backoff.Next())) break;
        continue;
      }
      spdlog::info("device key registered");
      ClearProblem();
      backoff.Reset();
      registered = true;
    }
    MaybePostHostKeys();
    note_long_poll();
    Result<std::optional<tuf::DeviceSession>> r = api_->GetSession(
        {.long_poll = session_poll_.get(), .cancel_fds = {wake_fd_.get()}});
    if (stopping_.load()) break;
    note_long_poll();
    if (!r.ok() && Readable(wake_fd_.get())) {
      // "Poll now" cut the held request: ask again, for a fresh answer.
      if (!AdmitPollNow(&last_poll_now_)) break;
      retry_at_ = {};
      continue;
    }
    SetStatus([&](AgentStatus& st) {
      st.last_poll_time = tuf::FormatRfc3339(clock_.Now());
      st.last_poll_result = !r.ok()          ? "error"
                            : r->has_value() ? "session"
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
      if (!next_poll()) break;
      continue;
    }
    backoff.Reset();
    const tuf::DeviceSession& session = **r;
    if (refused_ && *refused_ == session &&
        std::chrono::steady_clock::now() < retry_at_) {
      if (!next_poll()) break;
      continue;
    }
    if (!refused_ || !(*refused_ == session)) session_backoff.Reset();
    if (RunSession(session) == Outcome::kEnded) {
      refused_.reset();
      // Whatever ended it, ask again at once (the tag is stale by now).
      session_poll_->Forget();
      if (stopping_.load()) break;
      if (session_poll_->Wait() > 0) continue;
    } else {
      refused_ = session;
      retry_at_ = std::chrono::steady_clock::now() + session_backoff.Next();
    }
    if (!next_poll()) break;
  }
  Stop(false);  // the other threads end too
  dbus_.reset();
  if (commands_thread_.joinable()) commands_thread_.join();
  if (reload_thread_.joinable()) reload_thread_.join();
  spdlog::info(reloading_.load() ? "stopped for the reload" : "stopped");
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
        .keepalive_interval = ToMillis(config::kLinkKeepalive),
        .link_timeout = ToMillis(config_.porthole.link_timeout),
        .max_channels = kMaxTunnelChannels,
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
    Validator validator(this, plan, session_poll_->tag());
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
      end_text =
          std::string(ssh::EndReasonName(end.reason)) + ": " + end.detail;
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
