#include "core/httpd/connection.h"

#include <poll.h>
#include <sys/socket.h>

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <cerrno>
#include <exception>

#include "core/httpd/wire.h"

namespace porthole::httpd {
namespace {

// Bytes read from TLS at a time.
constexpr size_t kReadChunk = 16 << 10;
// After a final response that closes the connection, the client's
// leftovers (an unread body) are read and dropped for up to this long, at
// most kMaxDrain bytes: closing with unread data would reset the connection
// and the client could lose the response.
constexpr std::chrono::milliseconds kLingerTime{2000};
constexpr size_t kMaxDrain = 4 << 20;
constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";

// Whether `fd` has something to read now (data, EOF or an error). Asio's
// epoll reactor is edge-triggered: a wait started without having just read
// the socket dry could miss data that is already there.
bool ReadableNow(int fd) {
  pollfd p = {fd, POLLIN, 0};
  return poll(&p, 1, 0) != 0;
}

std::string Seconds(std::chrono::milliseconds d) {
  if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + "s";
  return std::to_string(d.count()) + "ms";
}

Refusal RefusalFor(int status) {
  switch (status) {
    case 408:
      return Refusal::kReadTimeout;
    case 413:
      return Refusal::kBodyTooLarge;
    case 431:
      return Refusal::kHeaderTooLarge;
    default:
      return Refusal::kBadRequest;
  }
}

}  // namespace

// ---- Exchange and Responder ------------------------------------------------

void Exchange::Respond(Response response) {
  std::function<void()> unused;  // destroyed outside the lock
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (done_) return;
    done_ = true;
    unused = std::move(on_cancel_);
  }
  answered_.store(true, std::memory_order_release);
  std::shared_lock<std::shared_mutex> life(life_->mu);
  if (life_->stopped) return;
  asio::post(*ioc_,
             [self = shared_from_this(), r = std::move(response)]() mutable {
               if (auto c = self->conn_.lock())
                 c->OnResponse(self, std::move(r));
             });
}

bool Exchange::Cancel() {
  std::function<void()> fn;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (done_) return false;
    done_ = true;
    cancelled_ = true;
    fn = std::move(on_cancel_);
  }
  if (fn) {
    try {
      fn();
    } catch (const std::exception& e) {  // not to leave Close() half done
      spdlog::error("httpd: an OnCancel callback threw: {}", e.what());
    }
  }
  return true;
}

void Exchange::SetOnCancel(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!cancelled_) {
      if (!done_) on_cancel_ = std::move(fn);
      return;
    }
  }
  if (fn) fn();
}

bool Exchange::cancelled() const {
  std::lock_guard<std::mutex> lock(mu_);
  return cancelled_;
}

Responder& Responder::operator=(Responder&& other) noexcept {
  if (this != &other) {
    if (exchange_) {
      exchange_->Respond(ErrorResponse(500, "the request was dropped"));
    }
    exchange_ = std::move(other.exchange_);
  }
  return *this;
}

Responder::~Responder() {
  if (exchange_) {
    exchange_->Respond(ErrorResponse(500, "the request was dropped"));
  }
}

void Responder::Respond(Response response) {
  if (!exchange_) return;
  std::shared_ptr<Exchange> e = std::move(exchange_);
  e->Respond(std::move(response));
}

void Responder::OnCancel(std::function<void()> fn) {
  if (exchange_) exchange_->SetOnCancel(std::move(fn));
}

bool Responder::cancelled() const {
  return exchange_ != nullptr && exchange_->cancelled();
}

// ---- Connection: set-up and tear-down --------------------------------------

Connection::Connection(std::shared_ptr<ServerCore> core, Worker* worker,
                       asio::ip::tcp::socket socket, std::string peer)
    : core_(std::move(core)),
      worker_(worker),
      socket_(std::move(socket)),
      timer_(worker->ioc),
      peer_(std::move(peer)) {}

Connection::~Connection() {
  if (counted_open_) {
    core_->stats.open.fetch_sub(1, std::memory_order_relaxed);
  }
}

void Connection::Start() {
  if (phase_ == Phase::kClosed) return;
  if (core_->stopping.load(std::memory_order_acquire)) {
    Close();
    return;
  }
  registered_ = worker_->connections.insert(worker_->connections.end(),
                                            shared_from_this());
  is_registered_ = true;
  boost::system::error_code ec;
  socket_.native_non_blocking(true, ec);
  if (!ec) socket_.set_option(asio::ip::tcp::no_delay(true), ec);
  if (ec) {
    Close();
    return;
  }
  auto tls =
      crypto::TlsServerSession::Create(*core_->tls, socket_.native_handle());
  if (!tls.ok()) {
    core_->log.Log(Refusal::kHandshakeFailed, peer_, tls.status().message());
    Close();
    return;
  }
  tls_ = std::move(tls).value();
  phase_ = Phase::kHandshake;
  SetTimeout(core_->options.handshake_timeout);
  DoHandshake();
}

void Connection::Abort() { Close(); }

void Connection::Close() {
  if (phase_ == Phase::kClosed) return;
  phase_ = Phase::kClosed;
  CancelExchange();
  boost::system::error_code ec;
  socket_.close(ec);  // pending waits complete with operation_aborted
  timer_.cancel();
  tls_.reset();
  reader_.reset();
  std::string().swap(in_);
  std::string().swap(out_);
  if (counted_open_) {
    counted_open_ = false;
    core_->stats.open.fetch_sub(1, std::memory_order_relaxed);
  }
  if (is_registered_) {
    is_registered_ = false;
    auto self = std::move(*registered_);  // released when this returns
    worker_->connections.erase(registered_);
  }
}

void Connection::CancelExchange() {
  if (!exchange_) return;
  std::shared_ptr<Exchange> e = std::move(exchange_);
  if (e->Cancel())
    core_->stats.cancelled.fetch_add(1, std::memory_order_relaxed);
}

void Connection::ReleaseBuffers() {
  if (in_.empty()) std::string().swap(in_);
  std::string().swap(out_);
  out_pos_ = 0;
}

// ---- Waiting and deadlines -------------------------------------------------

void Connection::Wait(asio::socket_base::wait_type type, Step next) {
  uint64_t gen = ++io_gen_;
  socket_.async_wait(type, [self = shared_from_this(), gen,
                            next](const boost::system::error_code& ec) {
    if (gen != self->io_gen_ || self->phase_ == Phase::kClosed) return;
    if (ec) {
      self->Close();
      return;
    }
    ((*self).*next)();
  });
}

// One timer per connection, re-armed only when a deadline moves earlier or
// when it fires early; moving a deadline later is a plain store.
void Connection::SetDeadline(Clock::time_point t) {
  deadline_ = t;
  if (t == Clock::time_point::max()) return;
  if (timer_armed_ && timer_at_ <= t) return;
  ArmTimer(t);
}

void Connection::ArmTimer(Clock::time_point t) {
  timer_armed_ = true;
  timer_at_ = t;
  uint64_t gen = ++timer_gen_;
  timer_.expires_at(t);
  timer_.async_wait(
      [self = shared_from_this(), gen](const boost::system::error_code&) {
        self->OnTimer(gen);
      });
}

void Connection::OnTimer(uint64_t gen) {
  if (gen != timer_gen_ || phase_ == Phase::kClosed) return;
  timer_armed_ = false;
  if (deadline_ == Clock::time_point::max()) return;
  if (Clock::now() < deadline_) {
    ArmTimer(deadline_);
    return;
  }
  OnDeadline();
}

void Connection::OnDeadline() {
  const auto& o = core_->options;
  deadline_ = Clock::time_point::max();
  if (!out_.empty() && phase_ != Phase::kWriting) {
    // "100 Continue" stuck: a half-written record cannot be replaced by a
    // 408, so this is a write timeout.
    phase_ = Phase::kWriting;
  }
  switch (phase_) {
    case Phase::kHandshake:
      core_->stats.handshake_failures.fetch_add(1, std::memory_order_relaxed);
      core_->log.Log(
          Refusal::kHandshakeTimeout, peer_,
          "TLS handshake not done within " + Seconds(o.handshake_timeout));
      Close();
      return;
    case Phase::kIdle:
      Close();  // an idle keep-alive connection: nothing to say
      return;
    case Phase::kHeader:
      Refuse(408,
             "request header not received within " + Seconds(o.header_timeout));
      return;
    case Phase::kBody:
      Refuse(408,
             "request body not received within " + Seconds(o.body_timeout));
      return;
    case Phase::kWriting:
      core_->stats.limit_refusals.fetch_add(1, std::memory_order_relaxed);
      core_->log.Log(Refusal::kWriteTimeout, peer_,
                     "response not taken within " + Seconds(o.write_timeout));
      Close();
      return;
    case Phase::kLinger:
    case Phase::kPending:
    case Phase::kClosed:
      Close();
      return;
  }
}

// ---- TLS handshake ---------------------------------------------------------

void Connection::DoHandshake() {
  switch (tls_->Handshake()) {
    case crypto::TlsIo::kOk:
      break;
    case crypto::TlsIo::kWantRead:
      return Wait(asio::socket_base::wait_read, &Connection::DoHandshake);
    case crypto::TlsIo::kWantWrite:
      return Wait(asio::socket_base::wait_write, &Connection::DoHandshake);
    case crypto::TlsIo::kClosed:
      // A port probe or health check: counted, logged only when debugging.
      core_->stats.handshake_failures.fetch_add(1, std::memory_order_relaxed);
      spdlog::debug("{}: {}: closed during the TLS handshake",
                    core_->options.name, peer_);
      return Close();
    case crypto::TlsIo::kError:
      core_->stats.handshake_failures.fetch_add(1, std::memory_order_relaxed);
      core_->log.Log(Refusal::kHandshakeFailed, peer_,
                     "TLS handshake failed: " + tls_->error());
      return Close();
  }
  if (core_->tls->client_certificate_required()) {
    auto info = crypto::ParsePeerCertificateDer(tls_->PeerCertificateDer());
    if (!info.ok()) {  // verified by OpenSSL, yet not usable as an identity
      core_->stats.handshake_failures.fetch_add(1, std::memory_order_relaxed);
      core_->log.Log(Refusal::kHandshakeFailed, peer_,
                     "client " + info.status().message());
      return Close();
    }
    certificate_ =
        std::make_shared<const ClientCertificate>(std::move(info).value());
  }
  phase_ = Phase::kIdle;
  SetTimeout(core_->options.idle_timeout);
  ReadRequest();
}

// ---- Reading a request -----------------------------------------------------

void Connection::ReadRequest() {
  const auto& o = core_->options;
  for (;;) {
    if (!in_.empty() && !Parse()) return;
    // Idle: read only once there is something to read, else OpenSSL would
    // hold a 16 KiB record buffer for the whole keep-alive time.
    if (phase_ == Phase::kIdle && in_.empty() && !tls_->HasBufferedInput() &&
        !ReadableNow(socket_.native_handle())) {
      std::string().swap(in_);
      return Wait(asio::socket_base::wait_read, &Connection::ReadRequest);
    }
    // In a header, read no more than the limit allows (the reader refuses
    // a header that reaches it); in a body the reader takes everything.
    size_t want = kReadChunk;
    if (phase_ == Phase::kIdle || phase_ == Phase::kHeader) {
      size_t room = o.max_header_bytes + 1 > in_.size()
                        ? o.max_header_bytes + 1 - in_.size()
                        : 1;
      want = std::min(want, room);
    }
    size_t old = in_.size();
    in_.resize(old + want);
    size_t n = 0;
    crypto::TlsIo r = tls_->Read(in_.data() + old, want, &n);
    in_.resize(old + (r == crypto::TlsIo::kOk ? n : 0));
    switch (r) {
      case crypto::TlsIo::kOk:
        if (phase_ == Phase::kIdle) {
          phase_ = Phase::kHeader;
          SetTimeout(o.header_timeout);
        }
        continue;
      case crypto::TlsIo::kWantRead:
        if (in_.empty()) std::string().swap(in_);  // idle: hold no buffer
        return Wait(asio::socket_base::wait_read, &Connection::ReadRequest);
      case crypto::TlsIo::kWantWrite:
        return Wait(asio::socket_base::wait_write, &Connection::ReadRequest);
      case crypto::TlsIo::kClosed:
      case crypto::TlsIo::kError:
        // The client hung up: normal between requests, and nobody to tell
        // in the middle of one.
        spdlog::debug("{}: {}: {}", o.name, peer_, tls_->error());
        return Close();
    }
  }
}

bool Connection::Parse() {
  const auto& o = core_->options;
  for (;;) {
    if (!reader_) reader_ = std::make_unique<RequestReader>(o.max_header_bytes);
    if (reader_->state() == RequestReader::State::kNeedMore) {
      size_t used = reader_->Feed(in_);
      in_.erase(0, used);
    }
    switch (reader_->state()) {
      case RequestReader::State::kNeedMore:
        if (phase_ == Phase::kIdle && reader_->started()) {
          phase_ = Phase::kHeader;
          SetTimeout(o.header_timeout);
        }
        return true;
      case RequestReader::State::kHeaderDone: {
        uint64_t limit = o.body_limit
                             ? o.body_limit(reader_->method(), reader_->path())
                             : o.max_body_bytes;
        reader_->StartBody(limit);
        if (reader_->state() == RequestReader::State::kError) continue;
        if (reader_->state() == RequestReader::State::kNeedMore) {
          phase_ = Phase::kBody;
          SetTimeout(o.body_timeout);
          if (reader_->expects_continue() && in_.empty()) {
            Write(kContinue, Next::kBody);
            return false;
          }
        }
        continue;
      }
      case RequestReader::State::kComplete:
        Dispatch();
        return false;
      case RequestReader::State::kError:
        Refuse(reader_->error_status(), reader_->error_reason());
        return false;
    }
  }
}

void Connection::Dispatch() {
  Request request = reader_->TakeRequest();
  version_ = reader_->version();
  head_ = reader_->is_head();
  keep_alive_ = reader_->keep_alive();
  reader_.reset();
  request.peer = peer_;
  request.client_certificate = certificate_;
  phase_ = Phase::kPending;
  SetDeadline(Clock::time_point::max());
  ReleaseBuffers();
  exchange_ =
      std::make_shared<Exchange>(core_->life, &worker_->ioc, weak_from_this());
  std::shared_ptr<Exchange> exchange = exchange_;
  core_->stats.requests.fetch_add(1, std::memory_order_relaxed);
  try {
    core_->handler(std::move(request), Responder(exchange));
  } catch (const std::exception& e) {
    // The handler's Responder, destroyed by the unwinding, answered 500.
    core_->log.Log(Refusal::kHandlerBug, peer_,
                   std::string("handler threw: ") + e.what());
  }
  // A long poll: notice a client that goes away meanwhile. Not needed when
  // the answer is already on its way, nor possible with a pipelined request
  // buffered.
  if (phase_ == Phase::kPending && exchange_ == exchange &&
      !exchange->answered() && in_.empty()) {
    WatchPending();
  }
}

void Connection::WatchPending() {
  // Readable while a response is pending: the client closed, reset, or
  // sent (pipelined) data, which is kept for later up to the header limit.
  for (;;) {
    if (phase_ != Phase::kPending) return;
    if (in_.size() > core_->options.max_header_bytes) return;  // stop watching
    if (!tls_->HasBufferedInput() && !ReadableNow(socket_.native_handle())) {
      if (in_.empty()) std::string().swap(in_);
      return Wait(asio::socket_base::wait_read, &Connection::WatchPending);
    }
    size_t old = in_.size();
    in_.resize(old + kReadChunk);
    size_t n = 0;
    crypto::TlsIo r = tls_->Read(in_.data() + old, kReadChunk, &n);
    in_.resize(old + (r == crypto::TlsIo::kOk ? n : 0));
    switch (r) {
      case crypto::TlsIo::kOk:
        continue;
      case crypto::TlsIo::kWantRead:
        if (in_.empty()) std::string().swap(in_);
        return Wait(asio::socket_base::wait_read, &Connection::WatchPending);
      case crypto::TlsIo::kWantWrite:
        return Wait(asio::socket_base::wait_write, &Connection::WatchPending);
      case crypto::TlsIo::kClosed:
      case crypto::TlsIo::kError:
        spdlog::debug("{}: {}: gone while its response was pending: {}",
                      core_->options.name, peer_, tls_->error());
        return Close();  // cancels the exchange
    }
  }
}

// ---- Responding ------------------------------------------------------------

void Connection::OnResponse(const std::shared_ptr<Exchange>& exchange,
                            Response response) {
  if (phase_ != Phase::kPending || exchange != exchange_) return;
  exchange_.reset();
  ++io_gen_;  // the pending watch, if any, is stale now
  std::string bad = CheckResponse(response);
  if (!bad.empty()) {
    core_->log.Log(Refusal::kHandlerBug, peer_,
                   "handler response refused: " + bad);
    response = ErrorResponse(500, "internal error");
  }
  bool close = response.close || !keep_alive_;
  core_->stats.CountResponse(response.status);
  Write(SerializeResponse(response, version_, head_, close),
        close ? Next::kClose : Next::kNextRequest);
}

void Connection::Refuse(int status, std::string reason) {
  if (status == 408 || status == 413 || status == 431) {
    core_->stats.limit_refusals.fetch_add(1, std::memory_order_relaxed);
  } else {
    core_->stats.bad_requests.fetch_add(1, std::memory_order_relaxed);
  }
  core_->log.Log(RefusalFor(status), peer_,
                 std::to_string(status) + " " + reason);
  core_->stats.CountResponse(status);
  reader_.reset();
  std::string().swap(in_);
  Write(SerializeResponse(ErrorResponse(status, reason), 11, false, true),
        Next::kClose);
}

void Connection::Write(std::string bytes, Next next) {
  ++io_gen_;  // whatever was awaited before is stale
  out_ = std::move(bytes);
  out_pos_ = 0;
  next_ = next;
  if (next != Next::kBody) phase_ = Phase::kWriting;
  SetTimeout(core_->options.write_timeout);
  DoWrite();
}

void Connection::DoWrite() {
  while (out_pos_ < out_.size()) {
    size_t n = 0;
    switch (tls_->Write(out_.data() + out_pos_, out_.size() - out_pos_, &n)) {
      case crypto::TlsIo::kOk:
        out_pos_ += n;
        SetTimeout(core_->options.write_timeout);  // progress
        continue;
      case crypto::TlsIo::kWantWrite:
        return Wait(asio::socket_base::wait_write, &Connection::DoWrite);
      case crypto::TlsIo::kWantRead:
        return Wait(asio::socket_base::wait_read, &Connection::DoWrite);
      case crypto::TlsIo::kClosed:
      case crypto::TlsIo::kError:
        spdlog::debug("{}: {}: write failed: {}", core_->options.name, peer_,
                      tls_->error());
        return Close();
    }
  }
  std::string().swap(out_);
  out_pos_ = 0;
  AfterWrite();
}

void Connection::AfterWrite() {
  const auto& o = core_->options;
  switch (next_) {
    case Next::kBody:  // after "100 Continue"
      SetTimeout(o.body_timeout);
      return ReadRequest();
    case Next::kNextRequest:
      if (in_.empty()) {
        phase_ = Phase::kIdle;
        SetTimeout(o.idle_timeout);
      } else {
        phase_ = Phase::kHeader;
        SetTimeout(o.header_timeout);
      }
      return ReadRequest();
    case Next::kClose:
      return StartLinger();
  }
}

// ---- Closing ---------------------------------------------------------------

void Connection::StartLinger() {
  tls_->Shutdown();  // close_notify, best effort
  boost::system::error_code ec;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_send, ec);
  if (ec) return Close();
  phase_ = Phase::kLinger;
  drained_ = 0;
  SetTimeout(kLingerTime);
  Drain();
}

void Connection::Drain() {
  char buf[4096];
  for (;;) {
    ssize_t n = recv(socket_.native_handle(), buf, sizeof(buf), 0);
    if (n > 0) {
      drained_ += static_cast<size_t>(n);
      if (drained_ > kMaxDrain) return Close();
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      return Wait(asio::socket_base::wait_read, &Connection::Drain);
    }
    return Close();  // EOF or error: the client has its answer
  }
}

}  // namespace porthole::httpd
