// The HTTP shapes the API handlers see, independent of the HTTPS library
// that carries them (run.cc adapts core/httpd to these), so handlers are
// tested by calling them directly.
#ifndef PORTHOLE_SERVER_API_HTTP_H_
#define PORTHOLE_SERVER_API_HTTP_H_

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace porthole::server::api {

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string path;    // percent-decoded, without the query
  std::map<std::string, std::string> query;  // decoded; last one wins
  std::vector<std::pair<std::string, std::string>> headers;  // lower-case
  std::string body;
  std::string peer;  // "ADDR:PORT"
  // Device listener only: the verified client certificate.
  std::string client_cert_sha256;  // lower-case hex of the DER
  std::string client_cert_cn;

  // The first header named `name` (lower case), or "".
  std::string Header(std::string_view name) const;
  // The query parameter, or nullptr.
  const std::string* Query(const std::string& name) const;
};

struct Response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // JSON unless a Content-Type header says otherwise

  // Adds or replaces a header.
  void SetHeader(const std::string& name, std::string value);
  std::string Header(std::string_view name) const;
};

// Called exactly once per request, from any thread; a no-op when the client
// has gone away.
using Respond = std::function<void(Response)>;

// Timers and deferred work on the server's threads.
class Scheduler {
 public:
  virtual ~Scheduler() = default;
  // Runs `fn` once after `delay` unless cancelled; the returned function
  // cancels (safe to call after it ran, from any thread).
  virtual std::function<void()> RunAfter(std::chrono::milliseconds delay,
                                         std::function<void()> fn) = 0;
  // Runs `fn` soon on a server thread.
  virtual void Post(std::function<void()> fn) = 0;
};

}  // namespace porthole::server::api

#endif  // PORTHOLE_SERVER_API_HTTP_H_
