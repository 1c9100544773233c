// The operator listener: the JSON API of docs/operator-api.md (devices,
// sessions, commands, policy, relay, audit) behind bearer tokens, and
// /metrics.
//
// Sessions: an operator key must be allowed by the remote-sessions document
// the server currently serves (the device checks the same document), the
// policy must be unexpired and allow the relay, and a device has at most one
// live session. Commands: the served policy must allow the name and every
// argument (RAC's rule, PROTOCOL.md 5.3).
//
// Thread safety: Handle() may run concurrently on any threads.
#ifndef PORTHOLE_SERVER_API_OPERATOR_API_H_
#define PORTHOLE_SERVER_API_OPERATOR_API_H_

#include <functional>
#include <string>

#include "server/api/context.h"
#include "server/api/http.h"

namespace porthole::server::api {

inline constexpr size_t kMaxOperatorBody = 64 << 10;
inline constexpr size_t kMaxImportBody = 1 << 20;  // a signed document
inline constexpr size_t kMaxSessionKeys = 16;
inline constexpr size_t kMaxRelayKeys = 4;

class OperatorApi {
 public:
  // `extra_metrics` appends Prometheus lines of the transport (may be
  // empty).
  OperatorApi(Context* context, std::function<std::string()> extra_metrics)
      : ctx_(context), extra_metrics_(std::move(extra_metrics)) {}

  void Handle(Request request, Respond respond);

  static size_t BodyLimit(std::string_view method, std::string_view path);

  // Parses a duration for the API: whole seconds, or "90s", "15m", "1h30m",
  // "7d", "2w". kInvalidArgument naming `what`.
  static Result<std::chrono::seconds> ParseApiDuration(const Json& value,
                                                       std::string_view what);

 private:
  struct Caller {
    std::string token_name;
  };
  void Route(const Caller& caller, const Request& request, Respond respond);

  Response ListDevices(const Request& request);
  Response ShowDevice(const std::string& which);
  Response OpenSession(const Caller& caller, const Request& request);
  Response ListSessions(const Request& request);
  void ShowSession(const std::string& id, const Request& request,
                   Respond respond);
  Response CloseSession(const Caller& caller, const std::string& id);
  Response AddRelayKey(const Caller& caller, const std::string& id,
                       const Request& request);
  Response CreateCommand(const Caller& caller, const Request& request);
  Response ListCommands(const Request& request);
  void ShowCommand(const std::string& id, const Request& request,
                   Respond respond);
  Response ShowPolicy();
  Response EditPolicy(const Caller& caller, const Request& request,
                      const std::string& rest);
  Response ExportPolicy();
  Response ImportPolicy(const Caller& caller, const Request& request);
  Response Relay();
  Response ListAudit(const Request& request);
  Response Metrics();

  Json DeviceJson(const Device& device);
  Json SessionJson(const Session& session, const std::string& device_name);
  Json CommandJson(const Command& command, const std::string& device_name);
  Response SessionNow(const std::string& id);
  Response CommandNow(const std::string& id);
  std::string DeviceName(const std::string& id);

  Context* const ctx_;
  std::function<std::string()> extra_metrics_;
};

}  // namespace porthole::server::api

#endif  // PORTHOLE_SERVER_API_OPERATOR_API_H_
