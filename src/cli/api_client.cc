#include "cli/api_client.h"

#include <cctype>

#include "cli/table.h"

namespace porthole::cli {
namespace {

constexpr std::chrono::milliseconds kDefaultTimeout{30000};
// A long poll may take `wait` plus this for the network.
constexpr std::chrono::milliseconds kPollSlack{15000};
// Responses are JSON objects of at most this size (100 sessions, 1000 audit
// events, command output of 2 x 800 KiB).
constexpr size_t kMaxResponse = 16 << 20;

std::string Strip(std::string_view etag) {
  if (etag.starts_with("W/")) etag.remove_prefix(2);
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') {
    etag = etag.substr(1, etag.size() - 2);
  }
  return std::string(etag);
}

template <typename T>
Result<T> Typed(Result<ApiResponse> r, Result<T> (*parse)(const Json&)) {
  if (!r.ok()) return r.status();
  return parse(r->body);
}

}  // namespace

std::string UrlEncode(std::string_view text) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string UrlEncodePath(std::string_view segment) {
  static const char kHex[] = "0123456789ABCDEF";
  // "." and ".." would be dot segments (removed before the request goes out).
  if (segment == ".") return "%2E";
  if (segment == "..") return "%2E%2E";
  constexpr std::string_view kKeep = "-._~!$&'()*+,;=:@";
  std::string out;
  for (unsigned char c : segment) {
    if (std::isalnum(c) || kKeep.find(static_cast<char>(c)) != kKeep.npos) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

OperatorApi::OperatorApi(std::unique_ptr<http::HttpClient> http,
                         std::string base, std::string token)
    : http_(std::move(http)),
      base_(std::move(base)),
      token_(std::move(token)) {}

Result<OperatorApi> OperatorApi::FromConfig(const OperatorConfig& config) {
  http::TlsClientConfig tls;
  tls.ca_pem = config.ca_pem;
  tls.timeout = kDefaultTimeout;
  tls.user_agent = "porthole/" PORTHOLE_CLI_VERSION;
  tls.max_body = kMaxResponse;
  PH_ASSIGN_OR_RETURN(auto http, http::MakeCurlHttpClient(tls));
  return OperatorApi(std::move(http), config.server, config.token);
}

Result<ApiResponse> OperatorApi::Call(
    const std::string& method, const std::string& path,
    const std::optional<Json>& body,
    std::optional<std::chrono::milliseconds> timeout,
    const std::string* raw_body) {
  http::HttpRequest req;
  req.method = method;
  req.url = base_ + path;
  req.headers = {{"Authorization", "Bearer " + token_}};
  req.timeout = timeout;
  if (raw_body != nullptr) {
    req.body = *raw_body;
  } else if (body) {
    auto dumped = tuf::DumpJson(*body);
    if (!dumped.ok()) return dumped.error().ToStatus();
    req.body = std::move(*dumped);
  }
  auto sent = http_->Send(req);
  if (!sent.ok()) {
    // "GET https://...: Connection refused" is already one clear line.
    return sent.status().code() == StatusCode::kInvalidArgument
               ? sent.status()
               : Status::Unavailable(sent.status().message());
  }
  ApiResponse r;
  r.status = sent->status;
  r.raw = std::move(sent->body);
  r.etag = Strip(sent->Header("etag"));
  auto parsed = tuf::ParseJson(r.raw);
  if (parsed.ok()) r.body = std::move(*parsed);
  if (r.status >= 400) r.error = ParseApiError(r.body);
  return r;
}

Status OperatorApi::ErrorStatus(const ApiResponse& r) {
  std::string what;
  if (r.error) {
    what = Printable(r.error->description.empty() ? r.error->code
                                                  : r.error->description) +
           " (" + Printable(r.error->code) + ")";
  } else {
    std::string excerpt = Printable(r.raw.substr(0, 80));
    what = "HTTP " + std::to_string(r.status) +
           (excerpt.empty() ? "" : ": " + excerpt);
  }
  if (r.status == 401) {
    return Status::PermissionDenied("server refused the token: " + what +
                                    "; porthole login again");
  }
  std::string msg = "server: " + what;
  switch (r.status) {
    case 400:
      return Status::InvalidArgument(msg);
    case 403:
    case 409:
      return Status::FailedPrecondition(msg);
    case 404:
      return Status::NotFound(msg);
    default:
      return Status::Unavailable(msg);
  }
}

namespace {

Result<ApiResponse> Expect2xx(Result<ApiResponse> r) {
  if (!r.ok()) return r.status();
  if (r->status < 200 || r->status > 299) {
    return OperatorApi::ErrorStatus(*r);
  }
  if (!r->body.is_object()) {
    return Status::Corrupt("server: answer is not a JSON object: " +
                           Printable(r->raw.substr(0, 80)));
  }
  return r;
}

}  // namespace

Result<ApiResponse> OperatorApi::Get(
    const std::string& path, std::optional<std::chrono::milliseconds> timeout) {
  return Expect2xx(Call("GET", path, std::nullopt, timeout));
}

Result<ApiResponse> OperatorApi::Post(const std::string& path,
                                      const Json& body) {
  return Expect2xx(Call("POST", path, body));
}

Result<ApiResponse> OperatorApi::PostRaw(const std::string& path,
                                         const std::string& body) {
  return Expect2xx(Call("POST", path, std::nullopt, std::nullopt, &body));
}

Result<ApiResponse> OperatorApi::Delete(const std::string& path) {
  return Expect2xx(Call("DELETE", path));
}

Result<std::vector<Device>> OperatorApi::ListDevices(bool all, Json* raw) {
  PH_ASSIGN_OR_RETURN(ApiResponse r, Get(std::string("/api/v1/devices") +
                                         (all ? "?all=1" : "")));
  if (raw != nullptr) *raw = r.body;
  return ParseDeviceList(r.body);
}

Result<Device> OperatorApi::GetDevice(const std::string& device) {
  return Typed<Device>(Get("/api/v1/devices/" + UrlEncodePath(device)),
                       ParseDevice);
}

Result<Session> OperatorApi::GetSession(const std::string& id) {
  return Typed<Session>(Get("/api/v1/sessions/" + UrlEncodePath(id)),
                        ParseSession);
}

Result<Session> OperatorApi::WaitSession(const std::string& id,
                                         const std::string& seen,
                                         std::chrono::seconds wait,
                                         std::string* etag) {
  std::string path = "/api/v1/sessions/" + UrlEncodePath(id) +
                     "?wait=" + std::to_string(wait.count());
  if (!seen.empty()) path += "&seen=" + UrlEncode(seen);
  PH_ASSIGN_OR_RETURN(ApiResponse r, Get(path, wait + kPollSlack));
  if (etag != nullptr) *etag = r.etag;
  return ParseSession(r.body);
}

Result<Command> OperatorApi::WaitCommand(const std::string& id,
                                         const std::string& seen,
                                         std::chrono::seconds wait,
                                         std::string* etag) {
  std::string path = "/api/v1/commands/" + UrlEncodePath(id) +
                     "?wait=" + std::to_string(wait.count());
  if (!seen.empty()) path += "&seen=" + UrlEncode(seen);
  PH_ASSIGN_OR_RETURN(ApiResponse r, Get(path, wait + kPollSlack));
  if (etag != nullptr) *etag = r.etag;
  return ParseCommand(r.body);
}

Result<Session> OperatorApi::CloseSession(const std::string& id) {
  return Typed<Session>(Delete("/api/v1/sessions/" + UrlEncodePath(id)),
                        ParseSession);
}

Result<RelayInfo> OperatorApi::GetRelay() {
  return Typed<RelayInfo>(Get("/api/v1/relay"), ParseRelay);
}

Result<PolicyStatus> OperatorApi::GetPolicy() {
  return Typed<PolicyStatus>(Get("/api/v1/policy"), ParsePolicyStatus);
}

}  // namespace porthole::cli
