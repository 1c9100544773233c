#include "agent/server_api.h"

#include <nlohmann/json.hpp>

#include "agent/version.h"
#include "core/base/utf8.h"
#include "core/tuf/signed_document.h"

namespace porthole::agent {
namespace {

bool Is2xx(long status) { return status >= 200 && status < 300; }

}  // namespace

std::string DescribeHttpStatus(const http::HttpResponse& response) {
  std::string text = "HTTP " + std::to_string(response.status);
  std::string_view body = response.body;
  body = body.substr(0, std::min(body.find('\n'), size_t{200}));
  if (!body.empty() && IsValidUtf8(body)) {
    text += ": ";
    for (char c : body) text += (c >= 0x20 && c != 0x7f) ? c : '?';
  }
  return text;
}

ServerApi::ServerApi(const config::AgentConfig& config,
                     std::unique_ptr<http::HttpClient> client)
    : config_(config), client_(std::move(client)) {}

Result<http::TlsClientConfig> ServerApi::LoadTls(
    const config::AgentConfig& config) {
  http::TlsClientConfig tls;
  tls.ca_file = config.Absolute(config.torizon.server_cert_path);
  tls.cert_file = config.Absolute(config.torizon.client_cert_path);
  tls.key_file = config.Absolute(config.torizon.client_key_path);
  tls.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(
      config.torizon.http_timeout.ToChrono());
  tls.user_agent = UserAgent();
  tls.ats_namespace = config.torizon.ats_namespace.value_or("");
  tls.max_body = tuf::kMaxMetadataBytes;
  // RAC's own harness talks plain HTTP; a URL says which it wants.
  tls.allow_plain_http = true;
  PH_RETURN_IF_ERROR(tls.LoadFiles());
  return tls;
}

Result<std::unique_ptr<ServerApi>> ServerApi::Create(
    const config::AgentConfig& config, const http::TlsClientConfig& tls,
    ExtensionState* extensions) {
  PH_ASSIGN_OR_RETURN(std::unique_ptr<http::HttpClient> client,
                      http::MakeCurlHttpClient(tls));
  if (extensions != nullptr) {
    client = TrackExtensions(std::move(client), extensions);
  }
  return std::make_unique<ServerApi>(config, std::move(client));
}

Result<http::HttpResponse> ServerApi::Send(http::HttpRequest request,
                                           const std::vector<int>& more) {
  request.cancel_fds = cancel_fds_;
  request.cancel_fds.insert(request.cancel_fds.end(), more.begin(), more.end());
  return client_->Send(request);
}

Status ServerApi::RegisterKey(const std::string& public_key_line) {
  http::HttpRequest req;
  req.method = "POST";
  req.url = config_.torizon.PublicKeysUrl();
  req.body = nlohmann::json({{"key", public_key_line}}).dump();
  PH_ASSIGN_OR_RETURN(http::HttpResponse resp, Send(req));
  if (!Is2xx(resp.status)) {
    return Status::Unavailable("POST " + req.url + ": " +
                               DescribeHttpStatus(resp));
  }
  return Status::Ok();
}

Status ServerApi::PostHostKeys(const std::vector<std::string>& lines) {
  http::HttpRequest req;
  req.method = "POST";
  req.url = config_.torizon.HostKeysUrl();
  req.body = nlohmann::json({{"keys", lines}}).dump();
  PH_ASSIGN_OR_RETURN(http::HttpResponse resp, Send(req));
  if (!Is2xx(resp.status)) {
    return Status::Unavailable("POST " + req.url + ": " +
                               DescribeHttpStatus(resp));
  }
  return Status::Ok();
}

Result<std::optional<tuf::DeviceSession>> ServerApi::GetSession(
    const SessionPoll& poll) {
  http::HttpRequest req;
  req.url = config_.torizon.SessionsUrl();
  const std::string url = req.url;
  if (poll.long_poll != nullptr) poll.long_poll->Prepare(&req, poll.cap);
  const auto start = std::chrono::steady_clock::now();
  Result<http::HttpResponse> sent = Send(req, poll.cancel_fds);
  if (poll.long_poll != nullptr) {
    if (sent.ok()) {
      poll.long_poll->Answered(
          *sent, std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::steady_clock::now() - start));
    } else {
      poll.long_poll->Forget();
    }
  }
  PH_ASSIGN_OR_RETURN(http::HttpResponse resp, std::move(sent));
  req.url = url;  // messages name the resource, not the query
  if (resp.status == 404) return std::optional<tuf::DeviceSession>();
  if (!Is2xx(resp.status)) {
    return Status::Unavailable("GET " + req.url + ": " +
                               DescribeHttpStatus(resp));
  }
  tuf::ErrorOr<tuf::DeviceSession> session = tuf::ParseDeviceSession(resp.body);
  if (!session.ok()) {
    return Status::Corrupt("GET " + req.url +
                           ": bad session: " + session.error().message());
  }
  return std::optional<tuf::DeviceSession>(std::move(session).value());
}

tuf::FetchResult ServerApi::DirectorFetcher::Fetch(const std::string& name,
                                                   size_t max_bytes) {
  http::HttpRequest req;
  req.url = api_->config_.torizon.Director().Resolve(name).ToString();
  Result<http::HttpResponse> resp = api_->Send(req);
  if (!resp.ok()) {
    if (resp.status().code() == StatusCode::kCorrupt) {
      return tuf::FetchResult::TooLarge();
    }
    return tuf::FetchResult::Failed(resp.status().message());
  }
  if (resp->status == 404 || resp->status == 424) {
    return tuf::FetchResult::NotFound();
  }
  if (!Is2xx(resp->status)) {
    return tuf::FetchResult::Failed("GET " + req.url + ": " +
                                    DescribeHttpStatus(*resp));
  }
  if (resp->body.size() > max_bytes) return tuf::FetchResult::TooLarge();
  return tuf::FetchResult::Found(std::move(resp->body));
}

}  // namespace porthole::agent
