#include "server/api/device_api.h"

#include <spdlog/spdlog.h>

#include <charconv>
#include <optional>

#include "core/config/agent_config.h"
#include "core/keys/public_key.h"
#include "server/api/long_poll.h"

namespace porthole::server::api {
namespace {

constexpr size_t kMaxHostKeys = 8;

std::string HostForUrl(const std::string& host) {
  if (host.find(':') != std::string::npos && host.front() != '[') {
    return "[" + host + "]";
  }
  return host;
}

// A plain public key a device may use or present: no certificate, no sk-
// (a device cannot touch a security key).
Result<keys::PublicKey> ParseDeviceKey(const std::string& line) {
  Result<keys::PublicKey> key = keys::ParsePublicKeyLine(line);
  if (!key.ok()) return key.status();
  if (key->certificate) {
    return Status::InvalidArgument("certificates are not accepted");
  }
  if (key->type == keys::KeyType::kSkEd25519 ||
      key->type == keys::KeyType::kSkEcdsaP256) {
    return Status::InvalidArgument("security-key (sk-) keys are not accepted");
  }
  if (line.find_first_of("\r\n") != std::string::npos) {
    return Status::InvalidArgument("key spans more than one line");
  }
  return key;
}

Response NoContent() {
  Response r;
  r.status = 204;
  return r;
}

std::optional<uint64_t> ParseVersionFile(std::string_view name) {
  constexpr std::string_view kSuffix = ".root.json";
  if (name.size() <= kSuffix.size() ||
      name.substr(name.size() - kSuffix.size()) != kSuffix) {
    return std::nullopt;
  }
  std::string_view digits = name.substr(0, name.size() - kSuffix.size());
  if (digits.empty() || digits.size() > 19 || digits[0] == '0') {
    return std::nullopt;
  }
  uint64_t v = 0;
  auto [ptr, ec] =
      std::from_chars(digits.data(), digits.data() + digits.size(), v);
  if (ec != std::errc() || ptr != digits.data() + digits.size()) {
    return std::nullopt;
  }
  return v;
}

}  // namespace

size_t DeviceApi::BodyLimit(std::string_view method, std::string_view path) {
  if (method == "POST" && path.rfind("/ras/commands/", 0) == 0) {
    return kMaxResultBody;
  }
  return kMaxDeviceBody;
}

bool DeviceApi::FirstRefusalInAWhile(const std::string& key, SystemTime now) {
  constexpr auto kEvery = std::chrono::seconds(60);
  constexpr size_t kMaxKeys = 10000;  // unknown CNs are chosen by the peer
  std::lock_guard<std::mutex> lock(refused_mu_);
  auto it = refused_at_.find(key);
  if (it != refused_at_.end() && now < it->second + kEvery &&
      now >= it->second) {
    return false;
  }
  if (it == refused_at_.end() && refused_at_.size() >= kMaxKeys) {
    refused_at_.clear();
  }
  refused_at_[key] = now;
  return true;
}

std::string DeviceApi::ExtensionsHeader() const {
  return "long-poll=" + std::to_string(ctx_->settings.max_long_poll) +
         ", host-keys";
}

void DeviceApi::Handle(Request request, Respond respond) {
  std::string extensions = ExtensionsHeader();
  Respond send = [respond = std::move(respond),
                  extensions](Response r) mutable {
    r.SetHeader("X-Porthole-Extensions", extensions);
    respond(std::move(r));
  };

  // Identity: the certificate the TLS layer verified against the device CA.
  const std::string& cn = request.client_cert_cn;
  Result<std::string> uuid = config::ParseUuid(cn);
  Result<Device> device = uuid.ok() && *uuid == cn
                              ? ctx_->store->FindDevice(cn)
                              : Result<Device>(Status::NotFound("no device"));
  if (!device.ok() || device->cert_sha256 != request.client_cert_sha256 ||
      device->removed()) {
    ctx_->metrics->device_refused++;
    std::string why = !device.ok() ? "unknown device"
                      : device->removed()
                          ? "device removed"
                          : "certificate is not the one issued to the device";
    // Logged and audited once a minute per device (or CN), not per poll.
    const bool record =
        FirstRefusalInAWhile(device.ok() ? device->id : cn, ctx_->clock->Now());
    if (record) {
      spdlog::warn("device api: refused {} (CN '{}'): {}", request.peer,
                   tuf::Excerpt(cn), why);
    }
    if (device.ok() && record) {
      ctx_->Audit("api.refused", device->id, "", "device",
                  Json{{"peer", request.peer}, {"reason", why}});
    }
    send(ErrorResponse(
        403,
        device.ok() && device->removed() ? "device_removed" : "unknown_device",
        why));
    return;
  }
  ctx_->seen->Seen(device->id, ctx_->clock->Now());

  const std::string& path = request.path;
  const std::string& method = request.method;
  if (path.rfind(kRasPrefix, 0) == 0) {
    std::string rest = path.substr(sizeof(kRasPrefix) - 1);
    if (rest == "sessions") {
      if (method != "GET") return send(MethodNotAllowed("GET"));
      return GetSessions(*device, request, std::move(send));
    }
    if (rest == "commands") {
      if (method != "GET") return send(MethodNotAllowed("GET"));
      return GetCommands(*device, request, std::move(send));
    }
    if (rest == "public-keys") {
      if (method != "POST") return send(MethodNotAllowed("POST"));
      return send(PostPublicKey(*device, request));
    }
    if (rest == "host-keys") {
      if (method != "POST") return send(MethodNotAllowed("POST"));
      return send(PostHostKeys(*device, request));
    }
    constexpr std::string_view kCommands = "commands/";
    constexpr std::string_view kResult = "/result";
    if (rest.rfind(kCommands, 0) == 0 && rest.size() > kResult.size() &&
        rest.compare(rest.size() - kResult.size(), kResult.size(), kResult) ==
            0) {
      if (method != "POST") return send(MethodNotAllowed("POST"));
      std::string id = rest.substr(
          kCommands.size(), rest.size() - kCommands.size() - kResult.size());
      return send(PostResult(*device, id, request));
    }
  } else if (path.rfind(kDirectorPrefix, 0) == 0) {
    if (method != "GET") return send(MethodNotAllowed("GET"));
    return send(Director(path.substr(sizeof(kDirectorPrefix) - 1)));
  }
  send(ErrorResponse(404, "not_found", "no such resource"));
}

Response DeviceApi::SessionsNow(const std::string& device_id) {
  SystemTime now = ctx_->clock->Now();
  Result<std::optional<Session>> live =
      ctx_->store->LiveSessionOfDevice(device_id, now);
  if (!live.ok()) return StatusResponse(live.status());
  Result<uint64_t> policy_version =
      ctx_->store->LatestMetadataVersion(director::kRemoteSessionsRole);
  if (!policy_version.ok()) return StatusResponse(policy_version.status());
  Response r;
  if (*live) {
    const Session& s = **live;
    r = JsonResponse(
        200, Json{{"ssh",
                   {{"authorized_pubkeys", s.operator_keys},
                    {"reverse_port", s.reverse_port},
                    {"ra_server_url", "ssh://" + device_id + "@" +
                                          HostForUrl(ctx_->relay.host) + ":" +
                                          std::to_string(ctx_->relay.port)},
                    {"ra_server_ssh_pubkey", ctx_->relay.host_key},
                    {"expires_at", FormatTime(s.expires_at)}}}});
  } else {
    r = ErrorResponse(404, "missing_remote_session",
                      "no remote session for this device");
  }
  SetTag(&r, TagOf(std::to_string(r.status) + "\n" + r.body + "\n" +
                   std::to_string(*policy_version)));
  return r;
}

void DeviceApi::GetSessions(const Device& device, const Request& request,
                            Respond respond) {
  ctx_->metrics->polls_sessions++;
  LongPollParams params;
  if (auto bad =
          ParseLongPoll(request, ctx_->settings.max_long_poll, &params)) {
    return respond(std::move(*bad));
  }
  std::string id = device.id;
  LongPoll(
      ctx_->hub, ctx_->scheduler, {DeviceTopic(id)}, params,
      [this, id] { return SessionsNow(id); }, std::move(respond));
}

Response DeviceApi::CommandsNow(const std::string& device_id) {
  Result<std::vector<Command>> pending =
      ctx_->store->PendingCommands(device_id);
  if (!pending.ok()) return StatusResponse(pending.status());
  Json values = Json::array();
  for (const Command& c : *pending) {
    values.push_back(Json{{"id", c.id},
                          {"name", c.name},
                          {"args", c.args},
                          {"created_at", FormatTime(c.created_at)}});
  }
  Response r = JsonResponse(200, Json{{"values", std::move(values)}});
  SetTag(&r, TagOf(r.body));
  return r;
}

void DeviceApi::GetCommands(const Device& device, const Request& request,
                            Respond respond) {
  ctx_->metrics->polls_commands++;
  LongPollParams params;
  if (auto bad =
          ParseLongPoll(request, ctx_->settings.max_long_poll, &params)) {
    return respond(std::move(*bad));
  }
  std::string id = device.id;
  LongPoll(
      ctx_->hub, ctx_->scheduler, {DeviceTopic(id)}, params,
      [this, id] { return CommandsNow(id); }, std::move(respond));
}

Response DeviceApi::PostPublicKey(const Device& device,
                                  const Request& request) {
  Result<Json> body = ParseObjectBody(request.body, {"key"});
  if (!body.ok()) {
    return ErrorResponse(400, "invalid_public_key", body.status().message());
  }
  const Json* line = tuf::FindMember(*body, "key");
  if (!line || !line->is_string()) {
    return ErrorResponse(400, "invalid_public_key",
                         "body: member 'key' must be a string");
  }
  Result<keys::PublicKey> key = ParseDeviceKey(line->get<std::string>());
  if (!key.ok()) {
    return ErrorResponse(400, "invalid_public_key",
                         "key: " + key.status().message());
  }
  ctx_->metrics->key_registrations++;
  Result<std::string> previous = ctx_->store->SetDeviceSshKey(
      device.id, line->get<std::string>(), ctx_->clock->Now());
  if (!previous.ok()) return StatusResponse(previous.status());
  Result<keys::PublicKey> old = keys::ParsePublicKeyLine(*previous);
  if (!old.ok() || !(*old == *key)) {
    Json details{{"fingerprint", key->Fingerprint()}};
    if (old.ok()) details["replaced"] = old->Fingerprint();
    ctx_->Audit("device.key", device.id, "", "device", details);
    if (ctx_->sessions_changed) ctx_->sessions_changed();
  }
  return NoContent();
}

Response DeviceApi::PostHostKeys(const Device& device, const Request& request) {
  Result<Json> body = ParseObjectBody(request.body, {"keys"});
  if (!body.ok()) {
    return ErrorResponse(400, "invalid_host_keys", body.status().message());
  }
  const Json* list = tuf::FindMember(*body, "keys");
  if (!list || !list->is_array() || list->empty() ||
      list->size() > kMaxHostKeys) {
    return ErrorResponse(400, "invalid_host_keys",
                         "body: 'keys' must be an array of 1 to 8 keys");
  }
  std::vector<std::string> lines;
  for (const Json& k : *list) {
    if (!k.is_string()) {
      return ErrorResponse(400, "invalid_host_keys",
                           "body: 'keys' entries must be strings");
    }
    Result<keys::PublicKey> key = ParseDeviceKey(k.get<std::string>());
    if (!key.ok()) {
      return ErrorResponse(400, "invalid_host_keys",
                           "key: " + key.status().message());
    }
    lines.push_back(k.get<std::string>());
  }
  if (lines != device.host_keys) {
    Status s = ctx_->store->SetDeviceHostKeys(device.id, lines);
    if (!s.ok()) return StatusResponse(s);
    ctx_->Audit("device.host_keys", device.id, "", "device",
                Json{{"count", lines.size()}});
  }
  return NoContent();
}

Response DeviceApi::PostResult(const Device& device, const std::string& id,
                               const Request& request) {
  auto not_found = [&] {
    return ErrorResponse(400, "command_not_found",
                         "no command " + tuf::Excerpt(id) + " for this device");
  };
  if (id.rfind(kCommandPrefix, 0) != 0) return not_found();
  tuf::ErrorOr<Json> body = tuf::ParseJson(request.body);
  if (!body.ok() || !body->is_object()) {
    return ErrorResponse(400, "invalid_result",
                         "body: not a CommandResult JSON object");
  }
  const Json* success = tuf::FindMember(*body, "success");
  if (!success || !success->is_boolean()) {
    return ErrorResponse(400, "invalid_result",
                         "body: member 'success' must be a boolean");
  }
  CommandResult result;
  result.json = request.body;
  result.success = success->get<bool>();
  result.at = ctx_->clock->Now();
  if (const Json* code = tuf::FindMember(*body, "exit_code")) {
    if (code->is_number_integer()) {
      result.exit_code = code->get<int64_t>();
    } else if (!code->is_null()) {
      return ErrorResponse(400, "invalid_result",
                           "body: member 'exit_code' must be an integer or "
                           "null");
    }
  }
  for (const char* member : {"stdout", "stderr", "finished_at"}) {
    const Json* v = tuf::FindMember(*body, member);
    if (v && !v->is_string()) {
      return ErrorResponse(
          400, "invalid_result",
          std::string("body: member '") + member + "' must be a string");
    }
  }
  Result<bool> stored = ctx_->store->SetCommandResult(device.id, id, result);
  if (!stored.ok()) {
    if (stored.status().code() == StatusCode::kNotFound) return not_found();
    return StatusResponse(stored.status());
  }
  ctx_->metrics->results_received++;
  if (*stored) {
    Json details{{"command", id}, {"success", result.success}};
    details["exit_code"] =
        result.exit_code ? Json(*result.exit_code) : Json(nullptr);
    ctx_->Audit("command.result", device.id, "", "device", details);
    ctx_->hub->Notify(CommandTopic(id));
    ctx_->hub->Notify(DeviceTopic(device.id));
  }
  return NoContent();
}

Response DeviceApi::Director(const std::string& name) {
  ctx_->metrics->director_fetches++;
  Result<std::string> text = Status::NotFound(name);
  if (name == "root.json") {
    text = ctx_->store->GetMetadata(director::kRootRole, std::nullopt);
  } else if (name == "remote-sessions.json") {
    text =
        ctx_->store->GetMetadata(director::kRemoteSessionsRole, std::nullopt);
  } else if (std::optional<uint64_t> v = ParseVersionFile(name)) {
    text = ctx_->store->GetMetadata(director::kRootRole, *v);
  }
  if (!text.ok()) {
    if (text.status().code() == StatusCode::kNotFound) {
      return ErrorResponse(404, "not_found",
                           "no such metadata: " + tuf::Excerpt(name));
    }
    return StatusResponse(text.status());
  }
  Response r;
  r.body = std::move(*text);
  r.SetHeader("Content-Type", "application/json");
  return r;
}

}  // namespace porthole::server::api
