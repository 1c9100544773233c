#include <pthread.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <cstdlib>
#include <latch>
#include <optional>
#include <vector>

#include "core/httpd/connection.h"
#include "core/httpd/httpd.h"

namespace porthole::httpd {
namespace {

// The server whose I/O thread this is, if any (Stop() from one would
// deadlock).
thread_local const void* current_server = nullptr;

std::string PeerName(const asio::ip::tcp::endpoint& ep) {
  asio::ip::address a = ep.address();
  if (a.is_v6() && a.to_v6().is_v4_mapped()) {
    a = asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6());
  }
  std::string host = a.to_string();
  if (a.is_v6()) host = "[" + host + "]";
  return host + ":" + std::to_string(ep.port());
}

Status CheckOptions(const HttpsServer::Options& o) {
  auto bad = [](std::string what) {
    return Status::InvalidArgument("httpd option " + what);
  };
  if (o.threads > 256) return bad("threads: at most 256");
  if (o.listen_backlog < 1) return bad("listen_backlog: must be positive");
  if (o.max_connections < 1) return bad("max_connections: must be positive");
  if (o.max_header_bytes < 256 || o.max_header_bytes > (1 << 20)) {
    return bad("max_header_bytes: must be 256 .. 1048576");
  }
  using std::chrono::milliseconds;
  for (auto [name, value] :
       {std::pair{"handshake_timeout", o.handshake_timeout},
        {"header_timeout", o.header_timeout},
        {"body_timeout", o.body_timeout},
        {"write_timeout", o.write_timeout},
        {"idle_timeout", o.idle_timeout}}) {
    if (value <= milliseconds(0)) {
      return bad(std::string(name) + ": must be positive");
    }
  }
  if (o.refusal_log_interval < milliseconds(0)) {
    return bad("refusal_log_interval: must not be negative");
  }
  if (o.cert_chain_pem.empty() || o.key_pem.empty()) {
    return bad("cert_chain_pem/key_pem: TLS certificate and key are required");
  }
  return Status::Ok();
}

}  // namespace

class HttpsServer::Impl {
 public:
  explicit Impl(std::shared_ptr<ServerCore> core) : core_(std::move(core)) {}

  ~Impl() { Stop(); }

  Status Listen() {
    const auto& o = core_->options;
    boost::system::error_code ec;
    asio::ip::address addr = asio::ip::make_address(o.listen_address, ec);
    if (ec) {
      return Status::InvalidArgument("httpd option listen_address '" +
                                     o.listen_address + "': not an IP address");
    }
    unsigned n = o.threads != 0
                     ? o.threads
                     : std::max(1u, std::thread::hardware_concurrency());
    for (unsigned i = 0; i < n; ++i)
      workers_.push_back(std::make_unique<Worker>());
    asio::ip::tcp::endpoint ep(addr, o.port);
    std::string where = "listen " + PeerName(ep) + ": ";
    acceptor_.emplace(workers_[0]->ioc);
    acceptor_->open(ep.protocol(), ec);
    if (!ec) acceptor_->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_->bind(ep, ec);
    if (!ec) acceptor_->listen(o.listen_backlog, ec);
    if (ec) return Status::IoError(where + ec.message());
    port_ = acceptor_->local_endpoint(ec).port();
    retry_timer_.emplace(workers_[0]->ioc);
    return Status::Ok();
  }

  void Run() {
    Accept();
    for (size_t i = 0; i < workers_.size(); ++i) {
      Worker* w = workers_[i].get();
      std::string name =
          core_->options.name.substr(0, 11) + "-" + std::to_string(i);
      w->thread = std::thread([this, w, name] {
        pthread_setname_np(pthread_self(), name.c_str());
        current_server = this;
        for (;;) {
          try {
            w->ioc.run();
            return;
          } catch (const std::exception& e) {
            // A Post/RunAfter function or a BodyLimit threw: log, go on.
            spdlog::error("{}: a callback threw: {}", core_->options.name,
                          e.what());
          }
        }
      });
    }
  }

  void Stop() {
    if (current_server == this) {
      spdlog::critical("{}: HttpsServer::Stop() called from a server thread",
                       core_->options.name);
      std::abort();
    }
    {
      std::unique_lock<std::shared_mutex> lock(core_->life->mu);
      if (core_->life->stopped) return;
      core_->life->stopped = true;
    }
    core_->stopping.store(true, std::memory_order_release);
    bool running = !workers_.empty() && workers_[0]->thread.joinable();
    if (running) {
      std::latch closed(static_cast<std::ptrdiff_t>(workers_.size()));
      for (size_t i = 0; i < workers_.size(); ++i) {
        Worker* w = workers_[i].get();
        asio::post(w->ioc, [this, w, i, &closed] {
          if (i == 0) {
            boost::system::error_code ec;
            acceptor_->close(ec);
            retry_timer_->cancel();
          }
          // Abort() unlinks the connection from the list.
          while (!w->connections.empty()) {
            std::shared_ptr<Connection> c = w->connections.front();
            c->Abort();
            if (!w->connections.empty() && w->connections.front() == c) {
              w->connections.pop_front();  // cannot happen; never spin
            }
          }
          closed.count_down();
        });
      }
      closed.wait();
    }
    for (auto& w : workers_) {
      w->work.reset();
      w->ioc.stop();
    }
    for (auto& w : workers_) {
      if (w->thread.joinable()) w->thread.join();
    }
  }

  uint16_t port() const { return port_; }

  Worker& NextWorker() {
    size_t i = next_.fetch_add(1, std::memory_order_relaxed) % workers_.size();
    return *workers_[i];
  }

  TimerHandle RunAfter(std::chrono::milliseconds delay,
                       std::function<void()> fn) {
    auto st = std::make_shared<TimerState>();
    st->life = core_->life;
    std::shared_lock<std::shared_mutex> lock(core_->life->mu);
    if (core_->life->stopped) return TimerHandle();
    Worker& w = NextWorker();
    st->ioc = &w.ioc;
    asio::post(w.ioc, [st, delay, fn = std::move(fn)]() mutable {
      if (st->cancelled.load(std::memory_order_acquire)) return;
      auto timer = std::make_shared<asio::steady_timer>(*st->ioc);
      st->timer = timer;
      timer->expires_after(delay);
      timer->async_wait(
          [st, timer, fn = std::move(fn)](const boost::system::error_code& ec) {
            if (ec || st->cancelled.load(std::memory_order_acquire)) return;
            fn();
          });
    });
    return TimerHandle(std::move(st));
  }

  void Post(std::function<void()> fn) {
    std::shared_lock<std::shared_mutex> lock(core_->life->mu);
    if (core_->life->stopped) return;
    asio::post(NextWorker().ioc, std::move(fn));
  }

  Counters counters() const {
    const Stats& s = core_->stats;
    auto get = [](const std::atomic<uint64_t>& a) {
      return a.load(std::memory_order_relaxed);
    };
    Counters c;
    c.connections_open = get(s.open);
    c.connections_accepted = get(s.accepted);
    c.connections_refused = get(s.refused);
    c.handshake_failures = get(s.handshake_failures);
    c.requests = get(s.requests);
    for (int i = 0; i < 6; ++i) c.responses_by_class[i] = get(s.by_class[i]);
    c.limit_refusals = get(s.limit_refusals);
    c.bad_requests = get(s.bad_requests);
    c.cancelled = get(s.cancelled);
    return c;
  }

 private:
  void Accept() {
    Worker& w = NextWorker();
    acceptor_->async_accept(w.ioc,
                            [this, &w](const boost::system::error_code& ec,
                                       asio::ip::tcp::socket socket) {
                              OnAccept(w, ec, std::move(socket));
                            });
  }

  void OnAccept(Worker& w, const boost::system::error_code& ec,
                asio::ip::tcp::socket socket) {
    if (ec == asio::error::operation_aborted ||
        core_->stopping.load(std::memory_order_acquire)) {
      return;
    }
    if (ec) {
      // Out of descriptors (EMFILE, ENFILE) or memory: pause instead of
      // spinning on a listen queue that stays readable.
      core_->log.Log(Refusal::kTooManyConnections, "accept", ec.message());
      retry_timer_->expires_after(std::chrono::milliseconds(100));
      retry_timer_->async_wait([this](const boost::system::error_code& e) {
        if (!e) Accept();
      });
      return;
    }
    boost::system::error_code peer_ec;
    std::string peer = PeerName(socket.remote_endpoint(peer_ec));
    if (peer_ec) peer = "unknown peer";
    Stats& s = core_->stats;
    if (s.open.load(std::memory_order_relaxed) >=
        core_->options.max_connections) {
      s.refused.fetch_add(1, std::memory_order_relaxed);
      core_->log.Log(
          Refusal::kTooManyConnections, peer,
          "refused: " + std::to_string(core_->options.max_connections) +
              " connections open (max_connections)");
      boost::system::error_code ignored;
      socket.close(ignored);
      Accept();
      return;
    }
    s.open.fetch_add(1, std::memory_order_relaxed);
    s.accepted.fetch_add(1, std::memory_order_relaxed);
    auto conn = std::make_shared<Connection>(core_, &w, std::move(socket),
                                             std::move(peer));
    asio::post(w.ioc, [conn] { conn->Start(); });
    Accept();
  }

  std::shared_ptr<ServerCore> core_;
  // Destroyed in reverse: the acceptor and timer before their io_context.
  std::vector<std::unique_ptr<Worker>> workers_;
  std::optional<asio::ip::tcp::acceptor> acceptor_;
  std::optional<asio::steady_timer> retry_timer_;
  uint16_t port_ = 0;
  std::atomic<size_t> next_{0};
};

Result<std::unique_ptr<HttpsServer>> HttpsServer::Start(Options options,
                                                        Handler handler) {
  PH_RETURN_IF_ERROR(CheckOptions(options));
  if (!handler) return Status::InvalidArgument("httpd: no handler");
  crypto::TlsServerConfig tls_config{options.cert_chain_pem, options.key_pem,
                                     options.client_ca_pem};
  PH_ASSIGN_OR_RETURN(auto tls, crypto::TlsServerContext::Create(tls_config));
  auto core = std::make_shared<ServerCore>(std::move(options),
                                           std::move(handler), std::move(tls));
  auto impl = std::make_unique<Impl>(core);
  PH_RETURN_IF_ERROR(impl->Listen());
  impl->Run();
  spdlog::info("{}: listening on port {} ({} client certificates)",
               core->options.name, impl->port(),
               core->options.client_ca_pem.empty() ? "no" : "requiring");
  return std::unique_ptr<HttpsServer>(new HttpsServer(std::move(impl)));
}

HttpsServer::HttpsServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpsServer::~HttpsServer() = default;  // ~Impl stops
uint16_t HttpsServer::port() const { return impl_->port(); }
void HttpsServer::Stop() { impl_->Stop(); }
TimerHandle HttpsServer::RunAfter(std::chrono::milliseconds delay,
                                  std::function<void()> fn) {
  return impl_->RunAfter(delay, std::move(fn));
}
void HttpsServer::Post(std::function<void()> fn) { impl_->Post(std::move(fn)); }
Counters HttpsServer::counters() const { return impl_->counters(); }

// ---- TimerHandle ------------------------------------------------------------

TimerHandle& TimerHandle::operator=(TimerHandle&& other) noexcept {
  if (this != &other) {
    Cancel();
    state_ = std::move(other.state_);
  }
  return *this;
}

TimerHandle::~TimerHandle() { Cancel(); }

void TimerHandle::Cancel() {
  if (!state_) return;
  std::shared_ptr<TimerState> st = std::move(state_);
  st->cancelled.store(true, std::memory_order_release);
  std::shared_lock<std::shared_mutex> lock(st->life->mu);
  if (st->life->stopped) return;
  // Frees the timer (and what fn holds) now rather than at its expiry.
  asio::post(*st->ioc, [st] {
    if (auto t = st->timer.lock()) t->cancel();
  });
}

}  // namespace porthole::httpd
