// ph_httpd: a small, strict HTTPS (HTTP/1.1) server for thousands of
// keep-alive connections that mostly sit idle or hold a long poll:
// porthole-server's device API (mutual TLS) and operator API (TLS, bearer
// tokens). It knows nothing of RAC or porthole's resources: it parses
// requests, enforces limits, identifies the TLS client and hands each
// request to one handler, which may answer at once or much later.
//
// Shape. A fixed pool of I/O threads, each running its own event loop
// (Boost.Asio, epoll); every connection lives on one of them. TLS is
// OpenSSL driven directly on the non-blocking socket (core/crypto/
// tls_server.h: its policy, TLS >= 1.2, no resumption, strict client
// certificates, is stated there); requests are parsed by Boost.Beast's
// parser. This header includes neither Boost nor OpenSSL.
//
// Memory. An idle keep-alive connection holds its socket, the TLS session
// with empty (released) record buffers, its verified client certificate
// and a small connection object: no read or write buffer is kept between
// requests. About 27 KiB with a client certificate, 18 KiB without, almost
// all OpenSSL's (docs/BENCHMARKS.md). A pending long poll adds the Request
// the handler holds.
//
// Protocol, strictly:
//   - HTTP/1.0 and 1.1 (another version is 400), origin-form targets
//     ("/path?query"); one request at a time per connection (a pipelined
//     request waits for the answer to the previous one). HTTP/1.1 needs exactly
//     one Host header.
//   - Request bodies by Content-Length or chunked; any other
//     Transfer-Encoding is 501. `Expect: 100-continue` is answered with
//     "100 Continue" once the body is allowed (or with 413 at once when it
//     is too large); another Expect value is 417.
//   - A repeated Host, Content-Length, Transfer-Encoding, Content-Type,
//     Authorization or Expect header is 400.
//   - The target: see target.h (a malformed percent-escape, an encoded
//     '/', NUL or control character, a dot segment, an empty query
//     parameter: 400).
//   - Every malformed or refused request is answered (400, 408, 413, 417,
//     431, 501) and the connection closed; the server's own error
//     bodies are JSON `{"code":"<snake_case>","description":"<one line>"}`
//     (RAC's RasError shape), e.g. {"code":"payload_too_large",...}.
//   - Responses carry Date, Content-Length (not for 1xx/204/304) and
//     Connection: close when the connection ends after them. HEAD gets the
//     headers of the handler's response without its body.
//
// Failures a peer causes never stop the server. Each refusal (too many
// connections, TLS handshake failed or timed out, header too large, body
// too large, bad request, read or write timeout) is one log line naming the
// peer ("device_api: 192.0.2.7:50712: TLS handshake failed: certificate
// verify failed: certificate has expired"), at most one line per second per
// kind (Options::refusal_log_interval); the next line of that kind says how
// many were not logged.
#ifndef PORTHOLE_CORE_HTTPD_HTTPD_H_
#define PORTHOLE_CORE_HTTPD_HTTPD_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/base/status.h"
#include "core/crypto/peer_certificate.h"

namespace porthole::httpd {

// The verified client certificate of a mutual-TLS connection. Computed once
// per connection and shared by all its requests.
using ClientCertificate = crypto::PeerCertificate;

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct Request {
  std::string method;  // as sent; case-sensitive ("GET", "POST")
  std::string target;  // the raw request-target ("/ras/sessions?wait=25")
  std::string path;    // percent-decoded path ("/ras/sessions")
  // Query parameters percent-decoded ('+' is a space), in order; a
  // parameter without '=' has an empty value; repeats are kept.
  HeaderList query;
  // Header names lower-cased, values as sent (surrounding whitespace
  // removed), in order; repeats are kept (see the singletons above).
  HeaderList headers;
  std::string body;
  int version = 11;  // 10 or 11
  std::string peer;  // "192.0.2.1:50123" or "[2001:db8::1]:50123"
  // Set on a server with a client CA (always then), null otherwise.
  std::shared_ptr<const ClientCertificate> client_certificate;

  // The first header / query parameter of that name, or null. `name` of a
  // header must be lower case.
  const std::string* Header(std::string_view name) const;
  const std::string* Query(std::string_view name) const;
};

struct Response {
  int status = 200;  // 200..599; anything else is answered as 500
  // Names and values are checked (token characters; no CR, LF or NUL):
  // a bad one, or one the server owns (Content-Length, Transfer-Encoding,
  // Connection, Date, Keep-Alive, Upgrade), turns the response into a 500
  // and is logged: that is a bug in the handler.
  HeaderList headers;
  std::string body;    // must be empty for 204 and 304 (else 500)
  bool close = false;  // end the connection after this response

  // status, Content-Type: application/json, body.
  static Response Json(int status, std::string body);
};

class Exchange;  // one request awaiting its response (internal)

// The right to answer one request. Move-only. Respond() may be called from
// any thread, at any later time (a long poll), at most once: later calls
// are ignored. Once the client has gone, or the server has stopped, it does
// nothing. Destroying a Responder that has not responded answers 500
// ("internal_error") so the client is not left hanging.
class Responder {
 public:
  Responder() = default;  // responds to nothing
  Responder(Responder&&) noexcept = default;
  Responder& operator=(Responder&& other) noexcept;
  Responder(const Responder&) = delete;
  Responder& operator=(const Responder&) = delete;
  ~Responder();

  void Respond(Response response);

  // `fn` runs once if the client goes away (closes, resets, times out) or
  // the server stops before the response was sent: a long-poll waiter can
  // be freed early. It runs on a server I/O thread (must not block), or at
  // once on the calling thread if that already happened. Replaces an
  // earlier `fn`. Never runs after Respond().
  void OnCancel(std::function<void()> fn);
  // True once the client is known to be gone or the server stopped.
  bool cancelled() const;
  // False for a default-constructed, moved-from or used Responder.
  explicit operator bool() const { return exchange_ != nullptr; }

 private:
  friend class Connection;
  explicit Responder(std::shared_ptr<Exchange> e) : exchange_(std::move(e)) {}
  std::shared_ptr<Exchange> exchange_;
};

// Called on a server I/O thread for every complete, well-formed request. It
// must not block: it answers through the Responder now or later (e.g. from
// a timer, RunAfter). An exception escaping it is logged and answered 500.
using Handler = std::function<void(Request&& request, Responder responder)>;

// The largest request body accepted for a request, decided from its method
// and decoded path once the header is read; larger bodies are 413. Called
// on an I/O thread; must be cheap and not block.
//
// Callbacks (BodyLimit, OnCancel, RunAfter and Post functions) should not
// throw; one that does is logged and the server goes on (a request being
// read when a BodyLimit threw ends in 408).
using BodyLimit =
    std::function<size_t(std::string_view method, std::string_view path)>;

class TimerState;  // internal

// A pending RunAfter(). Move-only; destroying it cancels the timer (keep
// it as long as the timer should run). After Cancel() returns, fn will not
// start (it may already be running on another thread). Any thread.
class TimerHandle {
 public:
  TimerHandle() = default;
  TimerHandle(TimerHandle&&) noexcept = default;
  TimerHandle& operator=(TimerHandle&& other) noexcept;
  ~TimerHandle();
  void Cancel();

 private:
  friend class HttpsServer;
  explicit TimerHandle(std::shared_ptr<TimerState> s) : state_(std::move(s)) {}
  std::shared_ptr<TimerState> state_;
};

// Totals since Start() (connections_open is the current number). Read from
// atomics; each field is exact, the set is not one snapshot.
struct Counters {
  uint64_t connections_open = 0;
  uint64_t connections_accepted = 0;
  uint64_t connections_refused = 0;     // max_connections reached
  uint64_t handshake_failures = 0;      // refused certificates, timeouts, junk
  uint64_t requests = 0;                // handed to the handler
  uint64_t responses_by_class[6] = {};  // [2] = 2xx ... [5] = 5xx, incl. the
                                        // server's own error responses
  uint64_t limit_refusals = 0;          // 408, 413, 431 and write timeouts
  uint64_t bad_requests = 0;            // 400, 417, 501
  uint64_t cancelled = 0;  // pending responses whose client went away
};

class HttpsServer {
 public:
  struct Options {
    // Prefix of every log line ("device_api", "operator_api").
    std::string name = "httpd";
    std::string listen_address = "127.0.0.1";  // an IP literal, no names
    uint16_t port = 0;     // 0: an ephemeral port (port() tells)
    unsigned threads = 0;  // I/O threads; 0: hardware concurrency
    int listen_backlog = 1024;

    // TLS material (PEM, in memory): the server certificate followed by
    // its intermediates, its key, and, for mutual TLS, the client CA(s)
    // whose certificates alone are accepted (empty: no client
    // certificates; see core/crypto/tls_server.h).
    std::string cert_chain_pem;
    std::string key_pem;
    std::string client_ca_pem;

    size_t max_connections = 10000;     // beyond: accepted and closed at once
    size_t max_header_bytes = 8 << 10;  // request line + headers; else 431
    size_t max_body_bytes = 64 << 10;   // default request body limit; 413
    BodyLimit body_limit;               // per request; unset: the above

    // TLS handshake, from accept.
    std::chrono::milliseconds handshake_timeout{10'000};
    // The whole request header, from its first byte (slowloris): 408.
    std::chrono::milliseconds header_timeout{10'000};
    // The whole request body, from the end of the header: 408.
    std::chrono::milliseconds body_timeout{60'000};
    // A response making no progress (a client that does not read).
    std::chrono::milliseconds write_timeout{30'000};
    // A connection with no request in progress (keep-alive); longer than
    // any client's poll interval. Not applied while a response is pending.
    std::chrono::milliseconds idle_timeout{120'000};

    // At most one refusal line per kind per this interval (0: every one).
    std::chrono::milliseconds refusal_log_interval{1000};
  };

  // Binds, listens and starts the I/O threads. kInvalidArgument for bad
  // options or TLS material (the message names it), kIoError when the
  // address cannot be bound ("listen 127.0.0.1:8443: Address already in
  // use").
  static Result<std::unique_ptr<HttpsServer>> Start(Options options,
                                                    Handler handler);
  ~HttpsServer();  // Stop()
  HttpsServer(const HttpsServer&) = delete;
  HttpsServer& operator=(const HttpsServer&) = delete;

  uint16_t port() const;

  // Stops accepting, closes every connection (responses being written are
  // cut), cancels pending responses (OnCancel callbacks run on the I/O
  // threads; the Responders become no-ops), drops pending timers and
  // posted functions without running them, and joins the threads.
  // Idempotent. Must not be called from a server thread (aborts). To
  // answer long polls before stopping, answer them first, then Stop().
  void Stop();

  // Runs `fn` on a server thread after `delay` (see TimerHandle). After
  // Stop() the timer never fires. Any thread.
  [[nodiscard]] TimerHandle RunAfter(std::chrono::milliseconds delay,
                                     std::function<void()> fn);
  // Runs `fn` on a server thread soon; dropped after Stop(). Any thread.
  void Post(std::function<void()> fn);

  Counters counters() const;

 private:
  class Impl;
  explicit HttpsServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace porthole::httpd

#endif  // PORTHOLE_CORE_HTTPD_HTTPD_H_
