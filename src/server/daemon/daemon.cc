#include "server/daemon/daemon.h"

#include <spdlog/spdlog.h>

#include "core/base/file.h"
#include "core/httpd/httpd.h"
#include "core/ssh/device_key.h"
#include "server/api/device_api.h"
#include "server/api/operator_api.h"
#include "server/api/timer_queue.h"
#include "server/daemon/store_relay_backend.h"
#include "server/relay/relay.h"

namespace porthole::server::daemon {
namespace {

constexpr size_t kMaxPemBytes = 1 << 20;
constexpr auto kTick = std::chrono::milliseconds(250);
constexpr auto kSeenFlushEvery = std::chrono::seconds(10);
constexpr auto kRenewEvery = std::chrono::hours(1);

api::Request ToApi(httpd::Request&& in) {
  api::Request out;
  out.method = std::move(in.method);
  out.path = std::move(in.path);
  for (auto& [k, v] : in.query) out.query[k] = v;
  out.headers = std::move(in.headers);
  out.body = std::move(in.body);
  out.peer = std::move(in.peer);
  if (in.client_certificate) {
    out.client_cert_sha256 = in.client_certificate->sha256_hex;
    out.client_cert_cn = in.client_certificate->subject_cn;
  }
  return out;
}

// A copyable Respond around the move-only Responder.
api::Respond ToRespond(httpd::Responder responder) {
  auto shared = std::make_shared<httpd::Responder>(std::move(responder));
  return [shared](api::Response r) {
    httpd::Response out;
    out.status = r.status;
    out.headers = std::move(r.headers);
    out.body = std::move(r.body);
    shared->Respond(std::move(out));
  };
}

std::string HttpMetrics(const char* listener, const httpd::Counters& c) {
  std::string l = std::string("{listener=\"") + listener + "\"";
  std::string out;
  auto line = [&](const char* name, const std::string& labels, uint64_t v) {
    out += std::string(name) + labels + " " + std::to_string(v) + "\n";
  };
  line("porthole_http_connections_open", l + "}", c.connections_open);
  line("porthole_http_connections_total", l + "}", c.connections_accepted);
  line("porthole_http_connections_refused_total", l + "}",
       c.connections_refused);
  line("porthole_http_handshake_failures_total", l + "}",
       c.handshake_failures);
  line("porthole_http_requests_total", l + "}", c.requests);
  for (int k = 2; k <= 5; ++k) {
    line("porthole_http_responses_total",
         l + ",class=\"" + std::to_string(k) + "xx\"}",
         c.responses_by_class[k]);
  }
  line("porthole_http_errors_total", l + ",kind=\"limit\"}", c.limit_refusals);
  line("porthole_http_errors_total", l + ",kind=\"bad_request\"}",
       c.bad_requests);
  return out;
}

}  // namespace

class Daemon::Impl {
 public:
  explicit Impl(DaemonOptions options) : options_(std::move(options)) {}
  ~Impl() { Stop(); }

  Status Start();
  void Stop();

  DaemonOptions options_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<director::Director> director_;
  api::ChangeHub hub_;
  api::TimerQueue timers_;
  api::Metrics metrics_;
  api::SeenTracker seen_;
  api::Context ctx_;
  std::unique_ptr<api::DeviceApi> device_api_;
  std::unique_ptr<api::OperatorApi> operator_api_;
  std::unique_ptr<ssh::PrivateKey> relay_key_;
  std::unique_ptr<StoreRelayBackend> relay_backend_;
  std::unique_ptr<relay::Relay> relay_;
  std::thread relay_thread_;
  std::unique_ptr<httpd::HttpsServer> device_server_;
  std::unique_ptr<httpd::HttpsServer> operator_server_;
  // operator_server_ for the metrics callback, which may run before
  // Start() has stored it.
  std::atomic<httpd::HttpsServer*> operator_slot_{nullptr};

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // guarded by mu_
  std::thread housekeeper_;

 private:
  void Housekeep();
  void ExpireDue();
  void Renew();
};

Status Daemon::Impl::Start() {
  const DaemonOptions& o = options_;
  PH_ASSIGN_OR_RETURN(std::string chain, ReadFile(o.tls_chain_file, kMaxPemBytes));
  PH_ASSIGN_OR_RETURN(std::string key, ReadFile(o.tls_key_file, kMaxPemBytes));
  PH_ASSIGN_OR_RETURN(std::string device_ca,
                      ReadFile(o.device_ca_file, kMaxPemBytes));
  Result<ssh::PrivateKey> relay_key = ssh::PrivateKey::Load(o.relay_host_key_file);
  if (!relay_key.ok()) return relay_key.status();
  relay_key_ = std::make_unique<ssh::PrivateKey>(std::move(*relay_key));

  PH_ASSIGN_OR_RETURN(store_, OpenSqliteStore(o.store_path));
  director_ = std::make_unique<director::Director>(
      store_.get(), o.director_keys, &Clock::Real(), o.director);

  ctx_.store = store_.get();
  ctx_.director = director_.get();
  ctx_.hub = &hub_;
  ctx_.scheduler = &timers_;
  ctx_.clock = &Clock::Real();
  ctx_.settings = o.settings;
  ctx_.metrics = &metrics_;
  ctx_.seen = &seen_;
  ctx_.relay.host = o.relay_public_host;
  ctx_.relay.host_key = relay_key_->PublicKeyLine();

  Renew();
  Result<director::DirectorState> state = director_->State();
  if (!state.ok()) return state.status();
  if (state->remote_sessions_keys_online) {
    spdlog::warn(
        "director: the remote-sessions signing key is online in {}: this "
        "server can authorise operator keys on its own (the embedded "
        "default). For production, move it offline (README: offline "
        "signing).",
        o.director_keys);
  } else {
    spdlog::info(
        "director: the remote-sessions signing key is offline; policy edits "
        "need `policy export`, `porthole policy sign`, `policy import`");
  }

  // The relay first: its port goes into every session.
  relay_backend_ = std::make_unique<StoreRelayBackend>(&ctx_);
  relay::RelayOptions ro;
  ro.listen_address = o.relay.address;
  ro.port = o.relay.port;
  ro.host_key = relay_key_.get();
  PH_ASSIGN_OR_RETURN(relay_, relay::Relay::Create(std::move(ro),
                                                   relay_backend_.get()));
  ctx_.relay.port = o.relay_public_port ? o.relay_public_port : relay_->port();
  relay::Relay* relay = relay_.get();
  ctx_.sessions_changed = [relay] { relay->Revalidate(); };
  relay_thread_ = std::thread([relay] {
    Status s = relay->Run();
    if (!s.ok()) spdlog::error("relay: {}", s.message());
  });

  device_api_ = std::make_unique<api::DeviceApi>(&ctx_);
  httpd::HttpsServer::Options dopt;
  dopt.name = "device_api";
  dopt.listen_address = o.device_api.address;
  dopt.port = o.device_api.port;
  dopt.threads = o.http_threads;
  dopt.cert_chain_pem = chain;
  dopt.key_pem = key;
  dopt.client_ca_pem = device_ca;
  dopt.max_connections = o.max_connections;
  dopt.idle_timeout = o.idle_timeout;
  dopt.body_limit = &api::DeviceApi::BodyLimit;
  dopt.max_body_bytes = api::kMaxResultBody;
  api::DeviceApi* dapi = device_api_.get();
  PH_ASSIGN_OR_RETURN(
      device_server_,
      httpd::HttpsServer::Start(std::move(dopt), [dapi](httpd::Request&& r,
                                                        httpd::Responder resp) {
        dapi->Handle(ToApi(std::move(r)), ToRespond(std::move(resp)));
      }));

  operator_api_ = std::make_unique<api::OperatorApi>(&ctx_, [this] {
    std::string out = HttpMetrics("device", device_server_->counters());
    if (httpd::HttpsServer* os = operator_slot_.load()) {
      out += HttpMetrics("operator", os->counters());
    }
    return out;
  });
  httpd::HttpsServer::Options oopt;
  oopt.name = "operator_api";
  oopt.listen_address = o.operator_api.address;
  oopt.port = o.operator_api.port;
  oopt.threads = 1;
  oopt.cert_chain_pem = chain;
  oopt.key_pem = key;
  oopt.body_limit = &api::OperatorApi::BodyLimit;
  oopt.max_body_bytes = api::kMaxImportBody;
  api::OperatorApi* oapi = operator_api_.get();
  PH_ASSIGN_OR_RETURN(
      operator_server_,
      httpd::HttpsServer::Start(std::move(oopt), [oapi](httpd::Request&& r,
                                                        httpd::Responder resp) {
        oapi->Handle(ToApi(std::move(r)), ToRespond(std::move(resp)));
      }));
  operator_slot_.store(operator_server_.get());

  housekeeper_ = std::thread([this] { Housekeep(); });
  spdlog::info(
      "porthole-server: device API on {}:{}, operator API on {}:{}, relay on "
      "{}:{} (devices dial {}:{})",
      o.device_api.address, device_server_->port(), o.operator_api.address,
      operator_server_->port(), o.relay.address, relay_->port(),
      ctx_.relay.host, ctx_.relay.port);
  return Status::Ok();
}

void Daemon::Impl::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (housekeeper_.joinable()) housekeeper_.join();
  if (operator_server_) operator_server_->Stop();
  if (device_server_) device_server_->Stop();
  if (relay_) relay_->Stop();
  if (relay_thread_.joinable()) relay_thread_.join();
  if (store_) {
    Status s = store_->TouchDevices(seen_.Take());
    if (!s.ok()) spdlog::error("store: {}", s.message());
  }
}

void Daemon::Impl::ExpireDue() {
  Result<std::vector<Session>> expired =
      store_->ExpireSessions(ctx_.clock->Now());
  if (!expired.ok()) {
    spdlog::error("sessions: {}", expired.status().message());
    return;
  }
  for (const Session& s : *expired) {
    ctx_.Audit("session.expire", s.device_id, s.id, "server",
               api::Json{{"expires_at", api::FormatTime(s.expires_at)}});
    hub_.Notify(api::DeviceTopic(s.device_id));
    hub_.Notify(api::SessionTopic(s.id));
  }
  if (!expired->empty()) relay_->Revalidate();
}

void Daemon::Impl::Renew() {
  Result<std::vector<std::string>> done = director_->RenewIfDue();
  if (!done.ok()) {
    spdlog::error("director: {}", done.status().message());
    return;
  }
  bool changed = false;
  for (const std::string& line : *done) {
    if (line.rfind("warning:", 0) == 0) {
      spdlog::warn("director: {}", line.substr(9));
    } else {
      spdlog::info("director: {}", line);
      changed = true;
    }
  }
  if (changed) hub_.NotifyAll();
}

void Daemon::Impl::Housekeep() {
  using SteadyClock = std::chrono::steady_clock;
  uint64_t stamp = store_->ChangeStamp();
  SteadyClock::time_point next_flush = SteadyClock::now() + kSeenFlushEvery;
  SteadyClock::time_point next_renew = SteadyClock::now() + kRenewEvery;
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, kTick);
    if (stopping_) break;
    lock.unlock();
    ExpireDue();
    SteadyClock::time_point now = SteadyClock::now();
    if (now >= next_flush) {
      Status s = store_->TouchDevices(seen_.Take());
      if (!s.ok()) spdlog::error("store: {}", s.message());
      next_flush = now + kSeenFlushEvery;
    }
    if (now >= next_renew) {
      Renew();
      next_renew = now + kRenewEvery;
    }
    // Any commit moves the stamp, ours included: a wake-up is a hint and
    // every waiter re-checks its own state.
    uint64_t current = store_->ChangeStamp();
    if (current != stamp) {
      stamp = current;
      hub_.NotifyAll();
      relay_->Revalidate();
    }
    lock.lock();
  }
}

Result<std::unique_ptr<Daemon>> Daemon::Start(DaemonOptions options) {
  auto impl = std::make_unique<Impl>(std::move(options));
  PH_RETURN_IF_ERROR(impl->Start());
  return std::unique_ptr<Daemon>(new Daemon(std::move(impl)));
}

Daemon::Daemon(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Daemon::~Daemon() { Stop(); }
void Daemon::Stop() { impl_->Stop(); }
uint16_t Daemon::device_port() const { return impl_->device_server_->port(); }
uint16_t Daemon::operator_port() const {
  return impl_->operator_server_->port();
}
uint16_t Daemon::relay_port() const { return impl_->relay_->port(); }

}  // namespace porthole::server::daemon
