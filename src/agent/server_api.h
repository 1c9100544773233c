// The device's side of the RAS and director HTTP API (PROTOCOL.md 3): what
// each status code means, on top of an http::HttpClient.
//
//   ServerApi api(config, std::move(client));
//   Status s = api.RegisterKey(device_key.PublicKeyLine());
//   Result<std::optional<tuf::DeviceSession>> poll = api.GetSession();
//   tuf::MetadataLoader loader(dir, api.director(), &clock);
//
// Thread safety: none; one ServerApi (and one HTTP client) per thread.
#ifndef PORTHOLE_AGENT_SERVER_API_H_
#define PORTHOLE_AGENT_SERVER_API_H_

#include <memory>
#include <optional>
#include <string>

#include "core/base/status.h"
#include "core/config/agent_config.h"
#include "core/http/http_client.h"
#include "core/tuf/loader.h"
#include "core/tuf/session_check.h"

namespace porthole::agent {

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

  // A libcurl client with `tls` (from LoadTls()).
  static Result<std::unique_ptr<ServerApi>> Create(
      const config::AgentConfig& config, const http::TlsClientConfig& tls);

  // POST {url}public-keys {"key": line}. Any 2xx is success; another status
  // is kUnavailable "POST URL: HTTP 503" (with the start of the body); a
  // transport failure kUnavailable.
  Status RegisterKey(const std::string& public_key_line);

  // GET {url}sessions: nullopt on 404 ("no session"), the parsed session on
  // 2xx. Errors: transport or another status -> kUnavailable; a 2xx body
  // that is not a DeviceSession -> kCorrupt (naming the reason).
  Result<std::optional<tuf::DeviceSession>> GetSession();

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

  const config::AgentConfig& config_;
  std::unique_ptr<http::HttpClient> client_;
  DirectorFetcher director_{this};
};

// "HTTP 503: <first line of the body, at most 200 bytes>" for logs.
std::string DescribeHttpStatus(const http::HttpResponse& response);

}  // namespace porthole::agent

#endif  // PORTHOLE_AGENT_SERVER_API_H_
