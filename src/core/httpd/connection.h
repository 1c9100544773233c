// Internals of httpd.h shared by connection.cc and server.cc (includes
// Boost.Asio; not for users of the library).
//
// Threads. Each Worker is one I/O thread running its own io_context. A
// Connection lives on one worker: every member function below runs on that
// worker's thread, except the constructor (the accepting thread, before the
// connection is published). Responders and timers reach a worker through
// asio::post, under ServerLife's shared lock, so nothing is posted to an
// io_context that Stop() has begun to tear down.
#ifndef PORTHOLE_CORE_HTTPD_CONNECTION_H_
#define PORTHOLE_CORE_HTTPD_CONNECTION_H_

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>

#include "core/crypto/tls_server.h"
#include "core/httpd/httpd.h"
#include "core/httpd/refusal_log.h"
#include "core/httpd/request_reader.h"

namespace porthole::httpd {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

// Whether the server still accepts work from other threads.
struct ServerLife {
  std::shared_mutex mu;
  bool stopped = false;  // GUARDED_BY(mu)
};

struct Stats {
  std::atomic<uint64_t> open{0}, accepted{0}, refused{0}, handshake_failures{0},
      requests{0}, limit_refusals{0}, bad_requests{0}, cancelled{0};
  std::atomic<uint64_t> by_class[6] = {};

  void CountResponse(int status) {
    by_class[status / 100 < 6 ? status / 100 : 5].fetch_add(
        1, std::memory_order_relaxed);
  }
};

// What every connection needs from the server; shared so that it outlives
// the last connection, whichever thread releases it.
struct ServerCore {
  HttpsServer::Options options;
  Handler handler;
  std::shared_ptr<const crypto::TlsServerContext> tls;
  std::shared_ptr<ServerLife> life = std::make_shared<ServerLife>();
  std::atomic<bool> stopping{false};
  Stats stats;
  RefusalLog log;

  ServerCore(HttpsServer::Options o, Handler h,
             std::shared_ptr<const crypto::TlsServerContext> t)
      : options(std::move(o)),
        handler(std::move(h)),
        tls(std::move(t)),
        log(options.name, options.refusal_log_interval) {}
};

class Connection;

struct Worker {
  asio::io_context ioc{1};
  asio::executor_work_guard<asio::io_context::executor_type> work =
      asio::make_work_guard(ioc);
  // Open connections (only this worker's thread touches the list); each
  // entry keeps its connection alive until Close().
  std::list<std::shared_ptr<Connection>> connections;
  std::thread thread;
};

// One request that awaits its response; shared by the connection and the
// Responder.
class Exchange : public std::enable_shared_from_this<Exchange> {
 public:
  Exchange(std::shared_ptr<ServerLife> life, asio::io_context* ioc,
           std::weak_ptr<Connection> conn)
      : life_(std::move(life)), ioc_(ioc), conn_(std::move(conn)) {}

  // Any thread. The first of Respond/Cancel wins; the other is a no-op.
  void Respond(Response response);
  // On the connection's thread: the client is gone or the server stops.
  // True if this cancelled a pending exchange (its callback has run).
  bool Cancel();
  void SetOnCancel(std::function<void()> fn);
  bool cancelled() const;
  // Respond() was called (maybe not delivered yet).
  bool answered() const { return answered_.load(std::memory_order_acquire); }

 private:
  const std::shared_ptr<ServerLife> life_;
  asio::io_context* const ioc_;  // valid while !life_->stopped
  const std::weak_ptr<Connection> conn_;
  mutable std::mutex mu_;
  bool done_ = false;                // GUARDED_BY(mu_)
  bool cancelled_ = false;           // GUARDED_BY(mu_)
  std::function<void()> on_cancel_;  // GUARDED_BY(mu_)
  std::atomic<bool> answered_{false};
};

class TimerState {
 public:
  std::shared_ptr<ServerLife> life;
  asio::io_context* ioc = nullptr;  // valid while !life->stopped
  std::atomic<bool> cancelled{false};
  // Set and read on the worker's thread only; the timer itself is owned by
  // its own completion handler, so it dies with its io_context.
  std::weak_ptr<asio::steady_timer> timer;
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(std::shared_ptr<ServerCore> core, Worker* worker,
             asio::ip::tcp::socket socket, std::string peer);
  ~Connection();

  void Start();
  // Stop(): close at once, cancelling a pending response.
  void Abort();
  // A Responder's answer, posted to this connection's thread.
  void OnResponse(const std::shared_ptr<Exchange>& exchange, Response response);

 private:
  enum class Phase {
    kHandshake,
    kIdle,     // between requests, nothing received
    kHeader,   // some of a request header received
    kBody,     // header done, body to come
    kPending,  // the handler has the request
    kWriting,
    kLinger,  // response sent, draining the client's leftovers
    kClosed,
  };
  enum class Next { kBody, kNextRequest, kClose };
  using Step = void (Connection::*)();

  void DoHandshake();
  void ReadRequest();
  // Feeds buffered bytes to the reader; true when more bytes are needed.
  bool Parse();
  void Dispatch();
  void WatchPending();
  void Write(std::string bytes, Next next);
  void DoWrite();
  void AfterWrite();
  void Refuse(int status,
              std::string reason);  // by value: it may live in reader_
  void StartLinger();
  void Drain();
  void Close();
  void CancelExchange();
  void ReleaseBuffers();

  void Wait(asio::socket_base::wait_type type, Step next);
  void SetDeadline(Clock::time_point t);
  void SetTimeout(std::chrono::milliseconds d) {
    SetDeadline(Clock::now() + d);
  }
  void ArmTimer(Clock::time_point t);
  void OnTimer(uint64_t gen);
  void OnDeadline();

  const std::shared_ptr<ServerCore> core_;
  Worker* const worker_;
  asio::ip::tcp::socket socket_;
  asio::steady_timer timer_;
  const std::string peer_;
  std::list<std::shared_ptr<Connection>>::iterator registered_;
  bool is_registered_ = false;
  bool counted_open_ = true;

  std::unique_ptr<crypto::TlsServerSession> tls_;
  std::shared_ptr<const ClientCertificate> certificate_;
  Phase phase_ = Phase::kHandshake;

  std::unique_ptr<RequestReader> reader_;
  std::string in_;  // received, not yet parsed
  // The request being answered.
  int version_ = 11;
  bool head_ = false;
  bool keep_alive_ = true;
  std::shared_ptr<Exchange> exchange_;

  std::string out_;  // being written
  size_t out_pos_ = 0;
  Next next_ = Next::kClose;
  size_t drained_ = 0;

  uint64_t io_gen_ = 0;  // a wait whose generation is stale is ignored
  Clock::time_point deadline_ = Clock::time_point::max();
  bool timer_armed_ = false;
  Clock::time_point timer_at_;
  uint64_t timer_gen_ = 0;
};

}  // namespace porthole::httpd

#endif  // PORTHOLE_CORE_HTTPD_CONNECTION_H_
