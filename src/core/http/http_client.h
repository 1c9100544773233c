// HTTP client seam: the agent talks to the server through HttpClient, so tests
// and the server-side code never depend on libcurl directly.
//
// A response of any status is a successful Send(): the caller decides what a
// 404 means. Send() fails only when no complete response arrived (transport,
// TLS, timeout, cancelled: kUnavailable) or the body exceeded the cap
// (kCorrupt).
#ifndef PORTHOLE_CORE_HTTP_HTTP_CLIENT_H_
#define PORTHOLE_CORE_HTTP_HTTP_CLIENT_H_

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/base/status.h"

namespace porthole::http {

struct HttpRequest {
  std::string method = "GET";  // GET or POST
  std::string url;
  std::string body;       // sent for POST
  bool json_body = true;  // Content-Type: application/json
  // Per-request override of the client's timeout (e.g. a long poll).
  std::optional<std::chrono::milliseconds> timeout;
  // Descriptors (eventfds) that cancel the request: as soon as one is
  // readable (already, or while the request runs), Send() stops and fails
  // with kUnavailable "METHOD URL: cancelled". They are never read.
  std::vector<int> cancel_fds;
};

struct HttpResponse {
  long status = 0;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // lower-case names

  // The first header named `name` (lower case), or empty.
  std::string Header(std::string_view name) const;
};

class HttpClient {
 public:
  virtual ~HttpClient() = default;
  // Not thread-safe: one client per thread.
  virtual Result<HttpResponse> Send(const HttpRequest& request) = 0;
};

// Mutual TLS: `ca_file` is the ONLY trust anchor (no system roots), the
// server's name is verified against the URL host, the client presents
// `cert_file` + `key_file`.
struct TlsClientConfig {
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  // The same material in memory (PEM). When set, the file is never opened:
  // an agent reads its certificates as root, drops privileges and keeps
  // making clients (LoadFiles()).
  std::string ca_pem;
  std::string cert_pem;
  std::string key_pem;
  std::chrono::milliseconds timeout{10000};  // whole request
  std::string user_agent;
  std::string ats_namespace;      // sent as x-ats-namespace when not empty
  size_t max_body = 1 << 20;      // larger responses fail
  bool allow_plain_http = false;  // http:// URLs (tests, RAC's own harness)

  // Reads each named file (at most 1 MiB) into its *_pem member. Errors
  // name the file.
  Status LoadFiles();
};

// A libcurl client that keeps its connection alive between requests. Fails
// if a file cannot be read or libcurl cannot be set up.
Result<std::unique_ptr<HttpClient>> MakeCurlHttpClient(
    const TlsClientConfig& config);

}  // namespace porthole::http

#endif  // PORTHOLE_CORE_HTTP_HTTP_CLIENT_H_
