// HTTP client seam: the agent talks to the server through HttpClient, so tests
// and the server-side code never depend on libcurl directly.
//
// A response of any status is a successful Send(): the caller decides what a
// 404 means. Send() fails only when no complete response arrived (transport,
// TLS, timeout, cancelled: kUnavailable), the body exceeded the cap
// (kCorrupt) or the request itself is malformed (an unknown method, a
// header name or value that would break the request: kInvalidArgument,
// nothing sent).
#ifndef PORTHOLE_CORE_HTTP_HTTP_CLIENT_H_
#define PORTHOLE_CORE_HTTP_HTTP_CLIENT_H_

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/base/status.h"

namespace porthole::http {

struct HttpRequest {
  std::string method = "GET";  // GET, POST or DELETE
  std::string url;
  std::string body;       // sent for POST
  bool json_body = true;  // Content-Type: application/json
  // Extra request headers ("Authorization", "Bearer ..."). Names must be
  // HTTP tokens, values printable (no CR, LF or other controls).
  std::vector<std::pair<std::string, std::string>> headers;
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

// TLS: `ca_file` (or `ca_pem`) is the ONLY trust anchor (no system roots;
// none given: every server is refused), the server's name is verified
// against the URL host. With `cert_file` + `key_file` (or the PEMs) the
// client presents a certificate (mutual TLS); without them it presents none
// (the operator CLI authenticates with a bearer token instead).
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

// The certificates an HTTPS server presents at `url` (its host and port; the
// path is not used), in the order sent (its own first), each as DER. TRUSTS
// NOTHING: neither the chain nor the host name is verified and no HTTP
// request is sent, so the result is only good for comparing against a pin
// the caller already holds (`porthole login --ca-sha256`); trust comes from
// the caller's own check, then a verifying client. kUnavailable when no TLS
// handshake completes within `timeout`; kInvalidArgument for a URL that is
// not https://.
Result<std::vector<std::string>> FetchPeerCertificates(
    const std::string& url, std::chrono::milliseconds timeout);

}  // namespace porthole::http

#endif  // PORTHOLE_CORE_HTTP_HTTP_CLIENT_H_
