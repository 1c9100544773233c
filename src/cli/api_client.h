// The operator API client: porthole-server's /api/v1 (docs/operator-api.md)
// over the HttpClient seam, with the bearer token on every request.
//
// Responses: a 2xx with a JSON object body is returned; anything else is a
// Status whose message is one line for the operator:
//   400 -> kInvalidArgument   "server: <description> (bad_request)"
//   401 -> kPermissionDenied  "server refused the token: <description>;
//                               porthole login again"
//   403, 409 -> kFailedPrecondition, 404 -> kNotFound,
//   5xx and transport errors -> kUnavailable.
// Call() returns any response (for callers that act on a 409's body).
//
// Not thread-safe (one HttpClient); long polls block the caller.
#ifndef PORTHOLE_CLI_API_CLIENT_H_
#define PORTHOLE_CLI_API_CLIENT_H_

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "cli/api_types.h"
#include "cli/operator_config.h"
#include "core/base/status.h"
#include "core/http/http_client.h"

namespace porthole::cli {

struct ApiResponse {
  long status = 0;
  Json body;                      // null when the body is not JSON
  std::string raw;                // the body as received
  std::string etag;               // ETag without quotes, "" when absent
  std::optional<ApiError> error;  // for 4xx/5xx with an error body
};

// Percent-encodes everything but RFC 3986 unreserved characters: a query
// value.
std::string UrlEncode(std::string_view text);
// Percent-encodes what may not stand in one RFC 3986 path segment (pchar:
// unreserved, sub-delims, ':' and '@' stay): "urn:tdx-ota:command:1" stays
// as it is, a '/' becomes %2F, and "." or ".." (dot segments) %2E.
std::string UrlEncodePath(std::string_view segment);

class OperatorApi {
 public:
  // `base` is the server URL (no trailing '/').
  OperatorApi(std::unique_ptr<http::HttpClient> http, std::string base,
              std::string token);

  // A client for the logged-in operator: the curl client trusting only
  // config.ca_pem, no client certificate.
  static Result<OperatorApi> FromConfig(const OperatorConfig& config);

  const std::string& base() const { return base_; }

  // `path` starts with "/api/v1/"; `body` is sent for POST (JSON, or
  // `raw_body` when set). `timeout` overrides the client's 30 s.
  Result<ApiResponse> Call(
      const std::string& method, const std::string& path,
      const std::optional<Json>& body = std::nullopt,
      std::optional<std::chrono::milliseconds> timeout = std::nullopt,
      const std::string* raw_body = nullptr);

  // Call() that turns every non-2xx answer into the Status above.
  Result<ApiResponse> Get(
      const std::string& path,
      std::optional<std::chrono::milliseconds> timeout = std::nullopt);
  Result<ApiResponse> Post(const std::string& path, const Json& body);
  Result<ApiResponse> PostRaw(const std::string& path, const std::string& body);
  Result<ApiResponse> Delete(const std::string& path);

  // Typed calls.
  Result<std::vector<Device>> ListDevices(bool all, Json* raw = nullptr);
  Result<Device> GetDevice(const std::string& device);
  Result<Session> GetSession(const std::string& id);
  // Long poll: answers when the session's tag differs from `seen` or after
  // `wait` (1..55 s). `etag` receives the new tag.
  Result<Session> WaitSession(const std::string& id, const std::string& seen,
                              std::chrono::seconds wait, std::string* etag);
  Result<Command> WaitCommand(const std::string& id, const std::string& seen,
                              std::chrono::seconds wait, std::string* etag);
  Result<Session> CloseSession(const std::string& id);
  Result<RelayInfo> GetRelay();
  Result<PolicyStatus> GetPolicy();

  // The Status for a non-2xx response (see above).
  static Status ErrorStatus(const ApiResponse& r);

 private:
  std::unique_ptr<http::HttpClient> http_;
  std::string base_;
  std::string token_;
};

}  // namespace porthole::cli

#endif  // PORTHOLE_CLI_API_CLIENT_H_
