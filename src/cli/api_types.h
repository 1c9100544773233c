// The operator API's resources (docs/operator-api.md) as the CLI reads them
// from porthole-server's JSON.
//
// Parsing is strict about what the CLI relies on and lenient about the
// rest, so a newer server still works: required members must be present with
// the documented type, optional ones (absent or null) must have the
// documented type when present, unknown members are ignored. Each struct
// keeps the object it was parsed from (`json`) so `--json` prints exactly
// what the server said. Errors are kCorrupt naming the resource and member:
// "session: member 'tunnel_up' must be a boolean". Plain data.
#ifndef PORTHOLE_CLI_API_TYPES_H_
#define PORTHOLE_CLI_API_TYPES_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/status.h"
#include "core/tuf/json.h"

namespace porthole::cli {

using Json = tuf::Json;

struct Device {
  Json json;
  std::string id;
  std::string name;
  std::optional<std::string> created_at, removed_at, last_seen_at;
  std::optional<std::string> cert_not_after;
  std::string ssh_key_fingerprint;
  std::vector<std::string> host_keys;
  std::optional<std::string> session;  // the live session's id
  bool tunnel_up = false;
};

struct RelayInfo {
  std::string host;
  uint16_t port = 0;
  std::string host_key;
};

struct Session {
  Json json;
  std::string id;
  std::string device;  // UUID
  std::string device_name;
  std::vector<std::string> operator_keys;
  std::vector<std::string> relay_keys;
  int64_t reverse_port = 0;
  std::string opened_by;
  std::optional<std::string> created_at, expires_at, ended_at;
  std::string state;  // "open", "closed", "expired"
  std::string end_reason;
  bool tunnel_up = false;
  std::optional<RelayInfo> relay;

  bool live() const { return state == "open"; }
};

struct CommandResult {
  bool success = false;
  int64_t exit_code = 0;
  std::string stdout_text, stderr_text;
  std::optional<std::string> error;  // a string, or an object's "message"
  std::optional<std::string> finished_at;
};

struct Command {
  Json json;
  std::string id;
  std::string device;
  std::string device_name;
  std::string name;
  std::vector<std::string> args;
  std::string created_by;
  std::optional<std::string> created_at;
  std::string state;  // "pending", "done"
  std::optional<CommandResult> result;
};

struct AuditEvent {
  Json json;
  uint64_t seq = 0;
  std::string at;
  std::string kind;
  std::string device;
  std::string session;
  std::string actor;
  Json details;  // an object, or null
};

// A policy object (`draft` or `published` of GET /api/v1/policy).
struct PolicyView {
  struct Key {
    std::string pubkey;
    std::string name;
  };
  std::vector<Key> authorized_keys;
  std::vector<std::string> ra_server_hosts;
  std::vector<std::string> ra_server_ssh_pubkeys;
  std::optional<std::map<std::string, std::vector<std::string>>>
      allowed_commands;
};

struct PolicyStatus {
  Json json;
  struct Role {
    uint64_t version = 0;
    std::optional<std::string> expires;
    bool keys_online = false;
  };
  Role root, remote_sessions;
  bool draft_published = false;
  PolicyView draft, published;
};

// The error body {"code": ..., "description": ...}; nullopt when the body is
// not such an object.
struct ApiError {
  std::string code;
  std::string description;
  Json json;
};
std::optional<ApiError> ParseApiError(const Json& body);

Result<Device> ParseDevice(const Json& j);
Result<Session> ParseSession(const Json& j);
Result<Command> ParseCommand(const Json& j);
Result<AuditEvent> ParseAuditEvent(const Json& j);
Result<RelayInfo> ParseRelay(const Json& j);
Result<PolicyView> ParsePolicyView(const Json& j, std::string_view where);
Result<PolicyStatus> ParsePolicyStatus(const Json& j);

// {"<member>": [objects...]} lists: "devices", "sessions", "commands",
// "events". At most 100,000 entries.
Result<std::vector<Device>> ParseDeviceList(const Json& j);
Result<std::vector<Session>> ParseSessionList(const Json& j);
Result<std::vector<Command>> ParseCommandList(const Json& j);
Result<std::vector<AuditEvent>> ParseAuditList(const Json& j);

}  // namespace porthole::cli

#endif  // PORTHOLE_CLI_API_TYPES_H_
