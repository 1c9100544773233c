#include "server/api/operator_api.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <map>

#include "core/config/duration.h"
#include "core/crypto/digest.h"
#include "core/crypto/random.h"
#include "core/keys/public_key.h"
#include "core/tuf/rfc3339.h"
#include "server/api/long_poll.h"

namespace porthole::server::api {
namespace {

constexpr char kApiPrefix[] = "/api/v1/";

std::vector<std::string> SplitPath(const std::string& rest) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= rest.size()) {
    size_t slash = rest.find('/', start);
    if (slash == std::string::npos) slash = rest.size();
    parts.push_back(rest.substr(start, slash - start));
    start = slash + 1;
  }
  if (!parts.empty() && parts.back().empty()) parts.pop_back();
  return parts;
}

std::string LowerNoBrackets(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  std::string out(host);
  for (char& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool IsSk(const keys::PublicKey& key) {
  return key.type == keys::KeyType::kSkEd25519 ||
         key.type == keys::KeyType::kSkEcdsaP256;
}

// A plain key line from a request (no options, no certificate, one line).
Result<keys::PublicKey> ParseRequestKey(const Json& value,
                                        std::string_view what) {
  if (!value.is_string()) {
    return Status::InvalidArgument(std::string(what) + " must be a string");
  }
  const std::string& line = value.get_ref<const std::string&>();
  if (line.find_first_of("\r\n") != std::string::npos) {
    return Status::InvalidArgument(std::string(what) +
                                   ": one key line expected");
  }
  Result<keys::PublicKey> key = keys::ParsePublicKeyLine(line);
  if (!key.ok()) {
    return Status::InvalidArgument(std::string(what) + ": " +
                                   key.status().message());
  }
  if (key->certificate) {
    return Status::InvalidArgument(std::string(what) +
                                   ": certificates are not accepted");
  }
  return key;
}

bool ParseBool(const Request& request, const std::string& name) {
  const std::string* v = request.Query(name);
  return v && (*v == "1" || *v == "true" || *v == "yes");
}

Result<size_t> ParseLimit(const Request& request, size_t fallback, size_t max) {
  const std::string* v = request.Query("limit");
  if (!v) return fallback;
  size_t n = 0;
  auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (ec != std::errc() || p != v->data() + v->size() || n == 0) {
    return Status::InvalidArgument("limit must be a positive integer");
  }
  return std::min(n, max);
}

Json PolicyJson(const director::Policy& policy) {
  tuf::ErrorOr<Json> json = tuf::ParseJson(director::FormatPolicy(policy));
  return json.ok() ? *json : Json::object();
}

}  // namespace

size_t OperatorApi::BodyLimit(std::string_view method, std::string_view path) {
  if (method == "POST" && path == "/api/v1/policy/import") {
    return kMaxImportBody;
  }
  return kMaxOperatorBody;
}

Result<std::chrono::seconds> OperatorApi::ParseApiDuration(
    const Json& value, std::string_view what) {
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument(std::string(what) + ": " + why);
  };
  if (value.is_number_unsigned() || value.is_number_integer()) {
    if (value.is_number_integer() && value.get<int64_t>() < 0) {
      return bad("must not be negative");
    }
    return std::chrono::seconds(value.get<uint64_t>());
  }
  if (!value.is_string()) return bad("a number of seconds or a text like 1h");
  std::string text = value.get<std::string>();
  uint64_t multiplier = 0;
  if (!text.empty() && (text.back() == 'd' || text.back() == 'w')) {
    multiplier = text.back() == 'd' ? 86400 : 7 * 86400;
    std::string digits = text.substr(0, text.size() - 1);
    uint64_t n = 0;
    auto [p, ec] =
        std::from_chars(digits.data(), digits.data() + digits.size(), n);
    if (digits.empty() || ec != std::errc() ||
        p != digits.data() + digits.size() || n > 100 * 365) {
      return bad("'" + tuf::Excerpt(text) + "' is not a duration");
    }
    return std::chrono::seconds(n * multiplier);
  }
  Result<config::Duration> d = config::ParseDuration(text);
  if (!d.ok()) return bad(d.status().message());
  return std::chrono::seconds(d->secs);
}

void OperatorApi::Handle(Request request, Respond respond) {
  if (request.path == "/metrics") {
    if (request.method != "GET") return respond(MethodNotAllowed("GET"));
    return respond(Metrics());
  }
  if (request.path.rfind(kApiPrefix, 0) != 0) {
    return respond(ErrorResponse(404, "not_found", "no such resource"));
  }
  std::string auth = request.Header("authorization");
  constexpr std::string_view kBearer = "Bearer ";
  Result<Token> token = Status::NotFound("no token");
  if (auth.size() > kBearer.size() && auth.rfind(kBearer, 0) == 0) {
    token = ctx_->store->FindToken(
        crypto::HexEncode(crypto::Sha256(auth.substr(kBearer.size()))));
  }
  if (!token.ok()) {
    ctx_->metrics->operator_unauthorized++;
    if (token.status().code() != StatusCode::kNotFound) {
      return respond(StatusResponse(token.status()));
    }
    spdlog::warn("operator api: refused {} {} from {}: no valid token",
                 request.method, tuf::Excerpt(request.path), request.peer);
    Response r = ErrorResponse(401, "unauthorized",
                               "a valid operator token is required "
                               "(Authorization: Bearer ...)");
    r.SetHeader("WWW-Authenticate", "Bearer");
    return respond(std::move(r));
  }
  Route(Caller{token->name}, request, std::move(respond));
}

void OperatorApi::Route(const Caller& caller, const Request& request,
                        Respond respond) {
  std::vector<std::string> p =
      SplitPath(request.path.substr(sizeof(kApiPrefix) - 1));
  const std::string& m = request.method;
  size_t n = p.size();
  auto is = [&](std::initializer_list<const char*> want) {
    if (want.size() != n) return false;
    size_t i = 0;
    for (const char* w : want) {
      if (*w != '*' && p[i] != w) return false;
      ++i;
    }
    return true;
  };

  if (is({"devices"})) {
    return respond(m == "GET" ? ListDevices(request) : MethodNotAllowed("GET"));
  }
  if (is({"devices", "*"})) {
    return respond(m == "GET" ? ShowDevice(p[1]) : MethodNotAllowed("GET"));
  }
  if (is({"sessions"})) {
    if (m == "GET") return respond(ListSessions(request));
    if (m == "POST") return respond(OpenSession(caller, request));
    return respond(MethodNotAllowed("GET, POST"));
  }
  if (is({"sessions", "*"})) {
    if (m == "GET") return ShowSession(p[1], request, std::move(respond));
    if (m == "DELETE") return respond(CloseSession(caller, p[1]));
    return respond(MethodNotAllowed("GET, DELETE"));
  }
  if (is({"sessions", "*", "relay-keys"})) {
    return respond(m == "POST" ? AddRelayKey(caller, p[1], request)
                               : MethodNotAllowed("POST"));
  }
  if (is({"commands"})) {
    if (m == "GET") return respond(ListCommands(request));
    if (m == "POST") return respond(CreateCommand(caller, request));
    return respond(MethodNotAllowed("GET, POST"));
  }
  if (is({"commands", "*"})) {
    if (m == "GET") return ShowCommand(p[1], request, std::move(respond));
    return respond(MethodNotAllowed("GET"));
  }
  if (is({"policy"})) {
    return respond(m == "GET" ? ShowPolicy() : MethodNotAllowed("GET"));
  }
  if (is({"policy", "export"})) {
    return respond(m == "GET" ? ExportPolicy() : MethodNotAllowed("GET"));
  }
  if (is({"policy", "import"})) {
    return respond(m == "POST" ? ImportPolicy(caller, request)
                               : MethodNotAllowed("POST"));
  }
  if (n >= 2 && n <= 3 && p[0] == "policy" &&
      (p[1] == "keys" || p[1] == "commands")) {
    return respond(EditPolicy(caller, request, request.path));
  }
  if (is({"relay"})) {
    return respond(m == "GET" ? Relay() : MethodNotAllowed("GET"));
  }
  if (is({"audit"})) {
    return respond(m == "GET" ? ListAudit(request) : MethodNotAllowed("GET"));
  }
  respond(ErrorResponse(404, "not_found", "no such resource"));
}

// ---- devices ----

Json OperatorApi::DeviceJson(const Device& d) {
  Json j{{"id", d.id},
         {"name", d.name},
         {"created_at", FormatTime(d.created_at)},
         {"removed_at", TimeOrNull(d.removed_at)},
         {"last_seen_at", TimeOrNull(d.last_seen_at)},
         {"cert_sha256", d.cert_sha256},
         {"cert_not_after", FormatTime(d.cert_not_after)},
         {"ssh_key", d.ssh_key},
         {"host_keys", d.host_keys}};
  Result<keys::PublicKey> key = keys::ParsePublicKeyLine(d.ssh_key);
  j["ssh_key_fingerprint"] = key.ok() ? Json(key->Fingerprint()) : Json("");
  Result<std::optional<Session>> live =
      ctx_->store->LiveSessionOfDevice(d.id, ctx_->clock->Now());
  if (live.ok() && *live) {
    j["session"] = (*live)->id;
    j["tunnel_up"] = (*live)->tunnel_up;
  } else {
    j["session"] = nullptr;
    j["tunnel_up"] = false;
  }
  return j;
}

Response OperatorApi::ListDevices(const Request& request) {
  Result<std::vector<Device>> devices =
      ctx_->store->ListDevices(ParseBool(request, "all"));
  if (!devices.ok()) return StatusResponse(devices.status());
  Json list = Json::array();
  for (const Device& d : *devices) list.push_back(DeviceJson(d));
  return JsonResponse(200, Json{{"devices", std::move(list)}});
}

Response OperatorApi::ShowDevice(const std::string& which) {
  Result<Device> d = ctx_->store->FindDevice(which);
  if (!d.ok()) return StatusResponse(d.status());
  return JsonResponse(200, DeviceJson(*d));
}

std::string OperatorApi::DeviceName(const std::string& id) {
  Result<Device> d = ctx_->store->FindDevice(id);
  return d.ok() ? d->name : "";
}

// ---- sessions ----

Json OperatorApi::SessionJson(const Session& s, const std::string& name) {
  return Json{{"id", s.id},
              {"device", s.device_id},
              {"device_name", name},
              {"operator_keys", s.operator_keys},
              {"relay_keys", s.relay_keys},
              {"reverse_port", s.reverse_port},
              {"opened_by", s.opened_by},
              {"created_at", FormatTime(s.created_at)},
              {"expires_at", FormatTime(s.expires_at)},
              {"state", SessionStateName(s.state)},
              {"ended_at", TimeOrNull(s.ended_at)},
              {"end_reason", s.end_reason},
              {"tunnel_up", s.tunnel_up},
              {"tunnel_changed_at", TimeOrNull(s.tunnel_changed_at)},
              {"relay",
               {{"host", ctx_->relay.host},
                {"port", ctx_->relay.port},
                {"host_key", ctx_->relay.host_key}}}};
}

Response OperatorApi::OpenSession(const Caller& caller,
                                  const Request& request) {
  Result<Json> body =
      ParseObjectBody(request.body, {"device", "keys", "ttl", "relay_keys"});
  if (!body.ok()) return StatusResponse(body.status());
  const Json* device_name = tuf::FindMember(*body, "device");
  if (!device_name || !device_name->is_string()) {
    return ErrorResponse(400, "bad_request", "body: 'device' must be a string");
  }
  Result<Device> device =
      ctx_->store->FindDevice(device_name->get<std::string>());
  if (!device.ok()) return StatusResponse(device.status());
  if (device->removed()) {
    return ErrorResponse(409, "device_removed",
                         "device " + device->name + " has been removed");
  }

  const Json* key_list = tuf::FindMember(*body, "keys");
  if (!key_list || !key_list->is_array() || key_list->empty() ||
      key_list->size() > kMaxSessionKeys) {
    return ErrorResponse(400, "bad_request",
                         "body: 'keys' must be an array of 1 to 16 keys");
  }
  std::vector<keys::PublicKey> operator_keys;
  std::vector<std::string> operator_lines;
  for (const Json& k : *key_list) {
    Result<keys::PublicKey> key = ParseRequestKey(k, "keys entry");
    if (!key.ok()) return StatusResponse(key.status());
    operator_keys.push_back(*key);
    operator_lines.push_back(k.get<std::string>());
  }
  std::vector<std::string> relay_lines;
  if (const Json* rk = tuf::FindMember(*body, "relay_keys")) {
    if (!rk->is_array() || rk->size() > kMaxRelayKeys) {
      return ErrorResponse(400, "bad_request",
                           "body: 'relay_keys' must be an array of at most "
                           "4 keys");
    }
    for (const Json& k : *rk) {
      Result<keys::PublicKey> key = ParseRequestKey(k, "relay_keys entry");
      if (!key.ok()) return StatusResponse(key.status());
      if (IsSk(*key)) {
        return ErrorResponse(400, "bad_request",
                             "relay_keys: sk- keys cannot be relay keys (the "
                             "relay cannot check user presence)");
      }
      relay_lines.push_back(k.get<std::string>());
    }
  }
  std::chrono::seconds ttl = ctx_->settings.default_ttl;
  if (const Json* t = tuf::FindMember(*body, "ttl")) {
    Result<std::chrono::seconds> parsed = ParseApiDuration(*t, "ttl");
    if (!parsed.ok()) return StatusResponse(parsed.status());
    ttl = *parsed;
  }
  if (ttl.count() < 1 || ttl > ctx_->settings.max_ttl) {
    return ErrorResponse(400, "bad_request",
                         "ttl must be between 1s and the server's max_ttl (" +
                             std::to_string(ctx_->settings.max_ttl.count()) +
                             "s)");
  }

  // What the device will check, checked here first.
  Result<director::PublishedPolicy> policy = ctx_->director->Published();
  if (!policy.ok()) return StatusResponse(policy.status());
  SystemTime now = ctx_->clock->Now();
  if (policy->expires <= now) {
    return ErrorResponse(409, "policy_expired",
                         "the signed policy (remote-sessions version " +
                             std::to_string(policy->version) +
                             ") has expired; devices refuse every session");
  }
  for (const keys::PublicKey& key : operator_keys) {
    bool allowed = std::any_of(
        policy->ssh.authorized_keys.begin(), policy->ssh.authorized_keys.end(),
        [&](const tuf::SshPolicy::AuthorizedKey& a) { return a.key == key; });
    if (!allowed) {
      return ErrorResponse(403, "key_not_allowed",
                           "key " + key.Fingerprint() +
                               " is not in the signed policy (remote-sessions "
                               "version " +
                               std::to_string(policy->version) + ")");
    }
  }
  Result<keys::PublicKey> relay_key =
      keys::ParsePublicKeyLine(ctx_->relay.host_key);
  bool host_ok = std::any_of(
      policy->ssh.ra_server_hosts.begin(), policy->ssh.ra_server_hosts.end(),
      [&](const std::string& h) {
        return LowerNoBrackets(h) == LowerNoBrackets(ctx_->relay.host);
      });
  bool key_ok =
      relay_key.ok() && std::any_of(policy->ssh.ra_server_ssh_pubkeys.begin(),
                                    policy->ssh.ra_server_ssh_pubkeys.end(),
                                    [&](const tuf::SshPolicy::ServerKey& k) {
                                      return k.key == *relay_key;
                                    });
  if (!host_ok || !key_ok) {
    return ErrorResponse(
        409, "policy_excludes_relay",
        "the signed policy does not allow this relay (" +
            std::string(host_ok ? "its host key" : "host " + ctx_->relay.host) +
            "); devices would refuse the session");
  }

  NewSession request_session;
  request_session.device_id = device->id;
  request_session.operator_keys = operator_lines;
  request_session.relay_keys = relay_lines;
  request_session.opened_by = caller.token_name;
  request_session.created_at = now;
  request_session.expires_at = now + ttl;
  request_session.port_min = ctx_->settings.port_min;
  request_session.port_max = ctx_->settings.port_max;
  Result<Session> session = ctx_->store->OpenSession(request_session);
  if (!session.ok()) {
    if (session.status().code() == StatusCode::kAlreadyExists) {
      Result<std::optional<Session>> live =
          ctx_->store->LiveSessionOfDevice(device->id, now);
      if (live.ok() && *live) {
        Response r = JsonResponse(
            409, Json{{"code", "session_exists"},
                      {"description", "device " + device->name +
                                          " already has a live session"},
                      {"session", SessionJson(**live, device->name)}});
        return r;
      }
    }
    return StatusResponse(session.status());
  }
  ctx_->metrics->sessions_opened++;
  Json fps = Json::array();
  for (const keys::PublicKey& k : operator_keys) fps.push_back(k.Fingerprint());
  ctx_->Audit("session.open", device->id, session->id, caller.token_name,
              Json{{"keys", fps},
                   {"expires_at", FormatTime(session->expires_at)},
                   {"reverse_port", session->reverse_port}});
  ctx_->hub->Notify(DeviceTopic(device->id));
  if (ctx_->sessions_changed) ctx_->sessions_changed();
  return JsonResponse(201, SessionJson(*session, device->name));
}

Response OperatorApi::ListSessions(const Request& request) {
  SessionFilter filter;
  if (const std::string* d = request.Query("device")) {
    Result<Device> device = ctx_->store->FindDevice(*d);
    if (!device.ok()) return StatusResponse(device.status());
    filter.device_id = device->id;
  }
  filter.live_only = !ParseBool(request, "all");
  filter.now = ctx_->clock->Now();
  Result<std::vector<Session>> sessions = ctx_->store->ListSessions(filter);
  if (!sessions.ok()) return StatusResponse(sessions.status());
  std::map<std::string, std::string> names;
  Json list = Json::array();
  for (const Session& s : *sessions) {
    auto it = names.find(s.device_id);
    if (it == names.end()) {
      it = names.emplace(s.device_id, DeviceName(s.device_id)).first;
    }
    list.push_back(SessionJson(s, it->second));
  }
  return JsonResponse(200, Json{{"sessions", std::move(list)}});
}

Response OperatorApi::SessionNow(const std::string& id) {
  Result<Session> s = ctx_->store->GetSession(id);
  if (!s.ok()) return StatusResponse(s.status());
  Response r = JsonResponse(200, SessionJson(*s, DeviceName(s->device_id)));
  SetTag(&r, TagOf(r.body));
  return r;
}

void OperatorApi::ShowSession(const std::string& id, const Request& request,
                              Respond respond) {
  LongPollParams params;
  if (auto bad =
          ParseLongPoll(request, ctx_->settings.max_long_poll, &params)) {
    return respond(std::move(*bad));
  }
  LongPoll(
      ctx_->hub, ctx_->scheduler, {SessionTopic(id)}, params,
      [this, id] { return SessionNow(id); }, std::move(respond));
}

Response OperatorApi::CloseSession(const Caller& caller,
                                   const std::string& id) {
  Result<Session> s = ctx_->store->GetSession(id);
  if (!s.ok()) return StatusResponse(s.status());
  Result<bool> ended = ctx_->store->EndSession(id, SessionState::kClosed,
                                               "closed by " + caller.token_name,
                                               ctx_->clock->Now());
  if (!ended.ok()) return StatusResponse(ended.status());
  if (*ended) {
    ctx_->Audit("session.close", s->device_id, id, caller.token_name,
                Json::object());
    ctx_->hub->Notify(DeviceTopic(s->device_id));
    ctx_->hub->Notify(SessionTopic(id));
    if (ctx_->sessions_changed) ctx_->sessions_changed();
  }
  return SessionNow(id);
}

Response OperatorApi::AddRelayKey(const Caller& caller, const std::string& id,
                                  const Request& request) {
  Result<Json> body = ParseObjectBody(request.body, {"key"});
  if (!body.ok()) return StatusResponse(body.status());
  const Json* k = tuf::FindMember(*body, "key");
  if (!k) return ErrorResponse(400, "bad_request", "body: 'key' is missing");
  Result<keys::PublicKey> key = ParseRequestKey(*k, "key");
  if (!key.ok()) return StatusResponse(key.status());
  if (IsSk(*key)) {
    return ErrorResponse(400, "bad_request",
                         "key: sk- keys cannot be relay keys");
  }
  Result<Session> s = ctx_->store->GetSession(id);
  if (!s.ok()) return StatusResponse(s.status());
  if (!s->LiveAt(ctx_->clock->Now())) {
    return ErrorResponse(409, "conflict", "session " + id + " has ended");
  }
  if (s->relay_keys.size() >= kMaxRelayKeys * 4) {
    return ErrorResponse(409, "conflict", "too many relay keys");
  }
  Status added = ctx_->store->AddRelayKey(id, k->get<std::string>());
  if (!added.ok()) return StatusResponse(added);
  ctx_->Audit("session.relay_key", s->device_id, id, caller.token_name,
              Json{{"fingerprint", key->Fingerprint()}});
  ctx_->hub->Notify(SessionTopic(id));
  return SessionNow(id);
}

// ---- commands ----

Json OperatorApi::CommandJson(const Command& c, const std::string& name) {
  Json j{{"id", c.id},
         {"device", c.device_id},
         {"device_name", name},
         {"name", c.name},
         {"args", c.args},
         {"created_by", c.created_by},
         {"created_at", FormatTime(c.created_at)},
         {"state", c.done() ? "done" : "pending"}};
  if (!c.done()) {
    j["result"] = nullptr;
    return j;
  }
  Json result = Json::object();
  tuf::ErrorOr<Json> parsed = tuf::ParseJson(c.result_json);
  if (parsed.ok() && parsed->is_object()) {
    for (const char* m : {"stdout", "stderr", "error", "finished_at"}) {
      if (const Json* v = tuf::FindMember(*parsed, m)) result[m] = *v;
    }
  }
  result["success"] = c.success;
  result["exit_code"] = c.exit_code ? Json(*c.exit_code) : Json(nullptr);
  result["received_at"] = FormatTime(*c.result_at);
  j["result"] = std::move(result);
  return j;
}

Response OperatorApi::CreateCommand(const Caller& caller,
                                    const Request& request) {
  Result<Json> body = ParseObjectBody(request.body, {"device", "name", "args"});
  if (!body.ok()) return StatusResponse(body.status());
  const Json* device_name = tuf::FindMember(*body, "device");
  const Json* name = tuf::FindMember(*body, "name");
  if (!device_name || !device_name->is_string() || !name ||
      !name->is_string()) {
    return ErrorResponse(400, "bad_request",
                         "body: 'device' and 'name' must be strings");
  }
  std::vector<std::string> args;
  if (const Json* a = tuf::FindMember(*body, "args")) {
    if (!a->is_array() || a->size() > 64) {
      return ErrorResponse(400, "bad_request",
                           "body: 'args' must be an array of at most 64 "
                           "strings");
    }
    for (const Json& v : *a) {
      if (!v.is_string() || v.get_ref<const std::string&>().size() > 4096) {
        return ErrorResponse(400, "bad_request",
                             "body: 'args' entries must be strings of at "
                             "most 4096 bytes");
      }
      args.push_back(v.get<std::string>());
    }
  }
  Result<Device> device =
      ctx_->store->FindDevice(device_name->get<std::string>());
  if (!device.ok()) return StatusResponse(device.status());
  if (device->removed()) {
    return ErrorResponse(409, "device_removed",
                         "device " + device->name + " has been removed");
  }
  Result<director::PublishedPolicy> policy = ctx_->director->Published();
  if (!policy.ok()) return StatusResponse(policy.status());
  const std::string& n = name->get_ref<const std::string&>();
  if (!policy->commands || !policy->commands->Allows(n, args)) {
    return ErrorResponse(403, "command_not_allowed",
                         "the signed policy (remote-sessions version " +
                             std::to_string(policy->version) +
                             ") does not allow '" + tuf::Excerpt(n) +
                             "' with these arguments; devices would reject it");
  }
  Command command;
  command.id = kCommandPrefix + crypto::RandomUuidV4();
  command.device_id = device->id;
  command.name = n;
  command.args = args;
  command.created_by = caller.token_name;
  command.created_at = ctx_->clock->Now();
  Status added = ctx_->store->AddCommand(command);
  if (!added.ok()) return StatusResponse(added);
  ctx_->metrics->commands_created++;
  ctx_->Audit("command.create", device->id, "", caller.token_name,
              Json{{"command", command.id}, {"name", n}, {"args", args}});
  ctx_->hub->Notify(DeviceTopic(device->id));
  Result<Command> stored = ctx_->store->GetCommand(command.id);
  return JsonResponse(
      201, CommandJson(stored.ok() ? *stored : command, device->name));
}

Response OperatorApi::ListCommands(const Request& request) {
  CommandFilter filter;
  if (const std::string* d = request.Query("device")) {
    Result<Device> device = ctx_->store->FindDevice(*d);
    if (!device.ok()) return StatusResponse(device.status());
    filter.device_id = device->id;
  }
  filter.pending_only = ParseBool(request, "pending");
  Result<std::vector<Command>> commands = ctx_->store->ListCommands(filter);
  if (!commands.ok()) return StatusResponse(commands.status());
  Json list = Json::array();
  std::map<std::string, std::string> names;
  for (const Command& c : *commands) {
    auto it = names.find(c.device_id);
    if (it == names.end()) {
      it = names.emplace(c.device_id, DeviceName(c.device_id)).first;
    }
    list.push_back(CommandJson(c, it->second));
  }
  return JsonResponse(200, Json{{"commands", std::move(list)}});
}

Response OperatorApi::CommandNow(const std::string& id) {
  Result<Command> c = ctx_->store->GetCommand(id);
  if (!c.ok()) return StatusResponse(c.status());
  Response r = JsonResponse(200, CommandJson(*c, DeviceName(c->device_id)));
  SetTag(&r, TagOf(r.body));
  return r;
}

void OperatorApi::ShowCommand(const std::string& id, const Request& request,
                              Respond respond) {
  LongPollParams params;
  if (auto bad =
          ParseLongPoll(request, ctx_->settings.max_long_poll, &params)) {
    return respond(std::move(*bad));
  }
  LongPoll(
      ctx_->hub, ctx_->scheduler, {CommandTopic(id)}, params,
      [this, id] { return CommandNow(id); }, std::move(respond));
}

// ---- policy ----

Response OperatorApi::ShowPolicy() {
  Result<director::DirectorState> s = ctx_->director->State();
  if (!s.ok()) return StatusResponse(s.status());
  return JsonResponse(
      200, Json{{"root",
                 {{"version", s->root_version},
                  {"expires", FormatTime(s->root_expires)},
                  {"keys_online", s->root_keys_online}}},
                {"remote_sessions",
                 {{"version", s->remote_sessions_version},
                  {"expires", FormatTime(s->remote_sessions_expires)},
                  {"keys_online", s->remote_sessions_keys_online}}},
                {"draft_published", s->draft_published},
                {"draft", PolicyJson(s->draft)},
                {"published", PolicyJson(s->published)}});
}

Response OperatorApi::EditPolicy(const Caller& caller, const Request& request,
                                 const std::string& path) {
  std::vector<std::string> p = SplitPath(path.substr(sizeof(kApiPrefix) - 1));
  const bool keys = p[1] == "keys";
  std::function<Status(director::Policy&)> edit;
  Json details;
  if (p.size() == 2 && request.method == "POST") {
    Result<Json> body = keys ? ParseObjectBody(request.body, {"key", "name"})
                             : ParseObjectBody(request.body, {"name", "args"});
    if (!body.ok()) return StatusResponse(body.status());
    if (keys) {
      const Json* key = tuf::FindMember(*body, "key");
      const Json* name = tuf::FindMember(*body, "name");
      if (!key || !key->is_string() || (name && !name->is_string())) {
        return ErrorResponse(400, "bad_request",
                             "body: 'key' (and 'name') must be strings");
      }
      std::string line = key->get<std::string>();
      std::string n = name ? name->get<std::string>() : "";
      edit = [line, n](director::Policy& policy) {
        return policy.AllowKey(line, n);
      };
      Result<keys::PublicKey> k = keys::ParsePublicKeyLine(line);
      details = {{"allow_key", k.ok() ? k->Fingerprint() : "?"}, {"name", n}};
    } else {
      const Json* name = tuf::FindMember(*body, "name");
      const Json* args = tuf::FindMember(*body, "args");
      if (!name || !name->is_string()) {
        return ErrorResponse(400, "bad_request",
                             "body: 'name' must be a string");
      }
      std::vector<std::string> list;
      if (args) {
        if (!args->is_array()) {
          return ErrorResponse(400, "bad_request",
                               "body: 'args' must be an array of strings");
        }
        for (const Json& a : *args) {
          if (!a.is_string()) {
            return ErrorResponse(400, "bad_request",
                                 "body: 'args' must be an array of strings");
          }
          list.push_back(a.get<std::string>());
        }
      }
      std::string n = name->get<std::string>();
      edit = [n, list](director::Policy& policy) {
        return policy.AllowCommand(n, list);
      };
      details = {{"allow_command", n}, {"args", list}};
    }
  } else if ((keys ? p.size() == 2 : p.size() == 3) &&
             request.method == "DELETE") {
    // A fingerprint holds '/', so keys are named by a query parameter.
    const std::string* key = request.Query("key");
    if (keys && (!key || key->empty())) {
      return ErrorResponse(400, "bad_request",
                           "name the key: ?key=FINGERPRINT-OR-NAME");
    }
    std::string what = keys ? *key : p[2];
    if (keys) {
      edit = [what](director::Policy& policy) { return policy.DenyKey(what); };
      details = {{"deny_key", what}};
    } else {
      edit = [what](director::Policy& policy) {
        return policy.DenyCommand(what);
      };
      details = {{"deny_command", what}};
    }
  } else {
    return MethodNotAllowed(p.size() == 2 ? "POST, DELETE" : "DELETE");
  }
  Result<uint64_t> version = ctx_->director->Edit(edit);
  if (!version.ok()) return StatusResponse(version.status());
  details["published_version"] = *version;
  ctx_->Audit("policy.change", "", "", caller.token_name, details);
  Json out{{"published_version", *version}};
  if (*version == 0) {
    out["note"] =
        "the remote-sessions key is offline: the draft changed; export it, "
        "sign it with `porthole policy sign` and import it";
  } else {
    ctx_->hub->NotifyAll();
  }
  return JsonResponse(200, out);
}

Response OperatorApi::ExportPolicy() {
  Result<std::string> doc = ctx_->director->Export();
  if (!doc.ok()) return StatusResponse(doc.status());
  Response r;
  r.body = std::move(*doc);
  r.SetHeader("Content-Type", "application/json");
  return r;
}

Response OperatorApi::ImportPolicy(const Caller& caller,
                                   const Request& request) {
  Result<uint64_t> version = ctx_->director->Import(request.body);
  if (!version.ok()) return StatusResponse(version.status());
  ctx_->Audit("policy.change", "", "", caller.token_name,
              Json{{"import", *version}});
  ctx_->hub->NotifyAll();
  return JsonResponse(200, Json{{"published_version", *version}});
}

// ---- relay, audit, metrics ----

Response OperatorApi::Relay() {
  return JsonResponse(200, Json{{"host", ctx_->relay.host},
                                {"port", ctx_->relay.port},
                                {"host_key", ctx_->relay.host_key}});
}

Response OperatorApi::ListAudit(const Request& request) {
  AuditFilter filter;
  if (const std::string* d = request.Query("device")) {
    Result<Device> device = ctx_->store->FindDevice(*d);
    if (!device.ok()) return StatusResponse(device.status());
    filter.device_id = device->id;
  }
  if (const std::string* since = request.Query("since")) {
    Result<SystemTime> t = tuf::ParseRfc3339(*since);
    if (!t.ok()) {
      return ErrorResponse(400, "bad_request",
                           "since: " + t.status().message());
    }
    filter.since = *t;
  }
  if (const std::string* after = request.Query("after")) {
    int64_t seq = 0;
    auto [p, ec] =
        std::from_chars(after->data(), after->data() + after->size(), seq);
    if (ec != std::errc() || p != after->data() + after->size() || seq < 0) {
      return ErrorResponse(400, "bad_request",
                           "after must be a non-negative integer");
    }
    filter.after_seq = seq;
  }
  Result<size_t> limit = ParseLimit(request, 1000, 10000);
  if (!limit.ok()) return StatusResponse(limit.status());
  filter.limit = *limit;
  Result<std::vector<AuditEvent>> events = ctx_->store->ListAudit(filter);
  if (!events.ok()) return StatusResponse(events.status());
  Json list = Json::array();
  for (const AuditEvent& e : *events) {
    tuf::ErrorOr<Json> details = tuf::ParseJson(e.details_json);
    list.push_back(Json{{"seq", e.seq},
                        {"at", FormatTime(e.at)},
                        {"kind", e.kind},
                        {"device", e.device_id},
                        {"session", e.session_id},
                        {"actor", e.actor},
                        {"details", details.ok() ? *details : Json::object()}});
  }
  return JsonResponse(200, Json{{"events", std::move(list)}});
}

Response OperatorApi::Metrics() {
  Result<Counts> counts = ctx_->store->GetCounts(ctx_->clock->Now());
  std::string out;
  auto line = [&out](const std::string& type, const std::string& name,
                     const std::string& labels, uint64_t value) {
    if (!type.empty()) out += "# TYPE " + name + " " + type + "\n";
    out += name + labels + " " + std::to_string(value) + "\n";
  };
  if (counts.ok()) {
    line("gauge", "porthole_devices", "", counts->devices);
    line("gauge", "porthole_sessions_live", "", counts->sessions_live);
    line("gauge", "porthole_tunnels_up", "", counts->tunnels_up);
    line("gauge", "porthole_commands_pending", "", counts->commands_pending);
  }
  const api::Metrics& m = *ctx_->metrics;
  line("counter", "porthole_device_polls_total", "{endpoint=\"sessions\"}",
       m.polls_sessions);
  line("", "porthole_device_polls_total", "{endpoint=\"commands\"}",
       m.polls_commands);
  line("counter", "porthole_director_fetches_total", "", m.director_fetches);
  line("counter", "porthole_device_key_registrations_total", "",
       m.key_registrations);
  line("counter", "porthole_command_results_total", "", m.results_received);
  line("counter", "porthole_device_refused_total", "", m.device_refused);
  line("counter", "porthole_operator_unauthorized_total", "",
       m.operator_unauthorized);
  line("counter", "porthole_sessions_opened_total", "", m.sessions_opened);
  line("counter", "porthole_commands_created_total", "", m.commands_created);
  line("gauge", "porthole_long_poll_waiters", "", ctx_->hub->waiters());
  if (extra_metrics_) out += extra_metrics_();
  Response r;
  r.body = std::move(out);
  r.SetHeader("Content-Type", "text/plain; version=0.0.4");
  return r;
}

}  // namespace porthole::server::api
