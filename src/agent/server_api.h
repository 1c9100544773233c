// The device's side of the RAS and director HTTP API (PROTOCOL.md 3): what
// each status code means, on top of an http::HttpClient.
//
//   ServerApi api(config, std::move(client));
//   Status s = api.RegisterKey(device_key.PublicKeyLine());
//   Result<std::optional<tuf::DeviceSession>> poll = api.GetSession();
//   tuf::MetadataLoader loader(dir, api.director(), &clock);
//
// With porthole-server's extensions (server_extensions.h,
// docs/device-api-extensions.md) GetSession() long-polls through a
// LongPoll, and PostHostKeys() sends the session server's host keys.
//
// Thread safety: none; one ServerApi (and one HTTP client) per thread.
#ifndef PORTHOLE_AGENT_SERVER_API_H_
#define PORTHOLE_AGENT_SERVER_API_H_

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/server_extensions.h"
#include "core/base/status.h"
#include "core/config/agent_config.h"
#include "core/http/http_client.h"
#include "core/tuf/loader.h"
#include "core/tuf/session_check.h"

namespace porthole::agent {

// How one GetSession() asks.
struct SessionPoll {
  // Long-poll as this says (LongPoll::Prepare), and record the answer in
  // it (Answered or Forget); null: an ordinary request.
  LongPoll* long_poll = nullptr;
  // A cap on the wait (validation_poll_timeout while re-validating).
  std::optional<std::chrono::milliseconds> cap;
  // More descriptors that cancel this request (a "poll now" eventfd).
  std::vector<int> cancel_fds;
};

class ServerApi {
 public:
  // `config` must outlive the object.
  ServerApi(const config::AgentConfig& config,
            std::unique_ptr<http::HttpClient> client);

  // The config's mutual TLS settings (http_timeout, namespace, User-Agent)
  // with the CA, certificate and key read into memory, so that clients can
  // still be made after the privilege drop. Errors name the file.
  static Result<http::TlsClientConfig> LoadTls(
      const config::AgentConfig& config);

  // A libcurl client with `tls` (from LoadTls()); with `extensions`, every
  // response updates it (TrackExtensions). `extensions` must outlive the
  // object.
  static Result<std::unique_ptr<ServerApi>> Create(
      const config::AgentConfig& config, const http::TlsClientConfig& tls,
      ExtensionState* extensions = nullptr);

  // Descriptors that cancel every request of this object from now on
  // (http::HttpRequest::cancel_fds): the agent's "stop" eventfd.
  void SetCancelFds(std::vector<int> fds) { cancel_fds_ = std::move(fds); }

  // POST {url}public-keys {"key": line}. Any 2xx is success; another status
  // is kUnavailable "POST URL: HTTP 503" (with the start of the body); a
  // transport failure kUnavailable.
  Status RegisterKey(const std::string& public_key_line);

  // GET {url}sessions: nullopt on 404 ("no session"), the parsed session on
  // 2xx. Errors: transport, cancelled or another status -> kUnavailable; a
  // 2xx body that is not a DeviceSession -> kCorrupt (naming the reason).
  Result<std::optional<tuf::DeviceSession>> GetSession(
      const SessionPoll& poll = {});

  // POST {url}host-keys {"keys": [line, ...]} (3). Any 2xx is success;
  // another status is kUnavailable "POST URL: HTTP 400: ...".
  Status PostHostKeys(const std::vector<std::string>& public_key_lines);

  // Director documents ({dir}NAME) for tuf::MetadataLoader: 404 and 424 are
  // "not found", other non-2xx statuses and transport errors are failures,
  // a body over the cap is kTooLarge. Owned by this object.
  tuf::MetadataFetcher* director() { return &director_; }

 private:
  class DirectorFetcher : public tuf::MetadataFetcher {
   public:
    explicit DirectorFetcher(ServerApi* api) : api_(api) {}
    tuf::FetchResult Fetch(const std::string& name, size_t max_bytes) override;

   private:
    ServerApi* api_;
  };

  // Sends with the object's cancel descriptors (and `more`).
  Result<http::HttpResponse> Send(http::HttpRequest request,
                                  const std::vector<int>& more = {});

  const config::AgentConfig& config_;
  std::unique_ptr<http::HttpClient> client_;
  std::vector<int> cancel_fds_;
  DirectorFetcher director_{this};
};

// "HTTP 503: <first line of the body, at most 200 bytes>" for logs.
std::string DescribeHttpStatus(const http::HttpResponse& response);

}  // namespace porthole::agent

#endif  // PORTHOLE_AGENT_SERVER_API_H_
