#include "cli/api_types.h"

namespace porthole::cli {
namespace {

constexpr size_t kMaxListEntries = 100000;

// Typed access to one object's members, errors naming `where`.
class Reader {
 public:
  Reader(const Json& j, std::string where) : j_(j), where_(std::move(where)) {}

  Status CheckObject() const {
    return j_.is_object() ? Status::Ok() : Fail("not a JSON object");
  }

  // Required string.
  Status Str(const char* key, std::string* out) const {
    const Json* v = Find(key);
    if (v == nullptr) return Fail(std::string("missing member '") + key + "'");
    if (!v->is_string()) return MustBe(key, "a string");
    *out = v->get_ref<const std::string&>();
    return Status::Ok();
  }
  // Optional string: absent or null leaves `out` alone.
  Status OptStr(const char* key, std::string* out) const {
    const Json* v = Find(key);
    if (v == nullptr || v->is_null()) return Status::Ok();
    if (!v->is_string()) return MustBe(key, "a string");
    *out = v->get_ref<const std::string&>();
    return Status::Ok();
  }
  Status OptStr(const char* key, std::optional<std::string>* out) const {
    const Json* v = Find(key);
    if (v == nullptr || v->is_null()) return Status::Ok();
    if (!v->is_string()) return MustBe(key, "a string or null");
    *out = v->get_ref<const std::string&>();
    return Status::Ok();
  }
  Status OptBool(const char* key, bool* out) const {
    const Json* v = Find(key);
    if (v == nullptr || v->is_null()) return Status::Ok();
    if (!v->is_boolean()) return MustBe(key, "a boolean");
    *out = v->get<bool>();
    return Status::Ok();
  }
  Status OptInt(const char* key, int64_t* out) const {
    const Json* v = Find(key);
    if (v == nullptr || v->is_null()) return Status::Ok();
    if (v->is_number_unsigned()) {
      uint64_t u = v->get<uint64_t>();
      if (u > static_cast<uint64_t>(INT64_MAX))
        return MustBe(key, "an integer");
      *out = static_cast<int64_t>(u);
      return Status::Ok();
    }
    if (!v->is_number_integer()) return MustBe(key, "an integer");
    *out = v->get<int64_t>();
    return Status::Ok();
  }
  Status OptStrings(const char* key, std::vector<std::string>* out) const {
    const Json* v = Find(key);
    if (v == nullptr || v->is_null()) return Status::Ok();
    if (!v->is_array() || v->size() > kMaxListEntries) {
      return MustBe(key, "an array of strings");
    }
    out->clear();
    for (const Json& e : *v) {
      if (!e.is_string()) return MustBe(key, "an array of strings");
      out->push_back(e.get_ref<const std::string&>());
    }
    return Status::Ok();
  }
  const Json* Find(const char* key) const {
    if (!j_.is_object()) return nullptr;
    auto it = j_.find(key);
    return it == j_.end() ? nullptr : &*it;
  }
  Status Fail(const std::string& why) const {
    return Status::Corrupt(where_ + ": " + why);
  }
  Status MustBe(const char* key, const char* what) const {
    return Fail(std::string("member '") + key + "' must be " + what);
  }

 private:
  const Json& j_;
  std::string where_;  // owned: callers build it on the fly
};

template <typename T>
Result<std::vector<T>> ParseList(const Json& j, const char* member,
                                 Result<T> (*parse)(const Json&)) {
  Reader r(j, std::string(member) + " list");
  PH_RETURN_IF_ERROR(r.CheckObject());
  const Json* list = r.Find(member);
  if (list == nullptr) {
    return r.Fail(std::string("missing member '") + member + "'");
  }
  if (!list->is_array() || list->size() > kMaxListEntries) {
    return r.MustBe(member, "an array");
  }
  std::vector<T> out;
  out.reserve(list->size());
  for (size_t i = 0; i < list->size(); ++i) {
    Result<T> item = parse((*list)[i]);
    if (!item.ok()) {
      return item.status().Prefixed(std::string(member) + "[" +
                                    std::to_string(i) + "]");
    }
    out.push_back(std::move(*item));
  }
  return out;
}

}  // namespace

std::optional<ApiError> ParseApiError(const Json& body) {
  Reader r(body, "error");
  ApiError e;
  if (!r.CheckObject().ok() || !r.Str("code", &e.code).ok()) {
    return std::nullopt;
  }
  if (!r.OptStr("description", &e.description).ok()) return std::nullopt;
  e.json = body;
  return e;
}

Result<Device> ParseDevice(const Json& j) {
  Reader r(j, "device");
  PH_RETURN_IF_ERROR(r.CheckObject());
  Device d;
  d.json = j;
  PH_RETURN_IF_ERROR(r.Str("id", &d.id));
  PH_RETURN_IF_ERROR(r.Str("name", &d.name));
  PH_RETURN_IF_ERROR(r.OptStr("created_at", &d.created_at));
  PH_RETURN_IF_ERROR(r.OptStr("removed_at", &d.removed_at));
  PH_RETURN_IF_ERROR(r.OptStr("last_seen_at", &d.last_seen_at));
  PH_RETURN_IF_ERROR(r.OptStr("cert_not_after", &d.cert_not_after));
  PH_RETURN_IF_ERROR(r.OptStr("ssh_key_fingerprint", &d.ssh_key_fingerprint));
  PH_RETURN_IF_ERROR(r.OptStrings("host_keys", &d.host_keys));
  PH_RETURN_IF_ERROR(r.OptStr("session", &d.session));
  PH_RETURN_IF_ERROR(r.OptBool("tunnel_up", &d.tunnel_up));
  return d;
}

Result<RelayInfo> ParseRelay(const Json& j) {
  Reader r(j, "relay");
  PH_RETURN_IF_ERROR(r.CheckObject());
  RelayInfo relay;
  PH_RETURN_IF_ERROR(r.Str("host", &relay.host));
  PH_RETURN_IF_ERROR(r.Str("host_key", &relay.host_key));
  int64_t port = -1;
  PH_RETURN_IF_ERROR(r.OptInt("port", &port));
  if (port < 1 || port > 65535) return r.MustBe("port", "a port 1..65535");
  relay.port = static_cast<uint16_t>(port);
  return relay;
}

Result<Session> ParseSession(const Json& j) {
  Reader r(j, "session");
  PH_RETURN_IF_ERROR(r.CheckObject());
  Session s;
  s.json = j;
  PH_RETURN_IF_ERROR(r.Str("id", &s.id));
  PH_RETURN_IF_ERROR(r.Str("state", &s.state));
  PH_RETURN_IF_ERROR(r.OptStr("device", &s.device));
  PH_RETURN_IF_ERROR(r.OptStr("device_name", &s.device_name));
  PH_RETURN_IF_ERROR(r.OptStrings("operator_keys", &s.operator_keys));
  PH_RETURN_IF_ERROR(r.OptStrings("relay_keys", &s.relay_keys));
  PH_RETURN_IF_ERROR(r.OptInt("reverse_port", &s.reverse_port));
  PH_RETURN_IF_ERROR(r.OptStr("opened_by", &s.opened_by));
  PH_RETURN_IF_ERROR(r.OptStr("created_at", &s.created_at));
  PH_RETURN_IF_ERROR(r.OptStr("expires_at", &s.expires_at));
  PH_RETURN_IF_ERROR(r.OptStr("ended_at", &s.ended_at));
  PH_RETURN_IF_ERROR(r.OptStr("end_reason", &s.end_reason));
  PH_RETURN_IF_ERROR(r.OptBool("tunnel_up", &s.tunnel_up));
  if (const Json* relay = r.Find("relay"); relay && !relay->is_null()) {
    Result<RelayInfo> info = ParseRelay(*relay);
    if (!info.ok()) return info.status().Prefixed("session");
    s.relay = std::move(*info);
  }
  return s;
}

Result<Command> ParseCommand(const Json& j) {
  Reader r(j, "command");
  PH_RETURN_IF_ERROR(r.CheckObject());
  Command c;
  c.json = j;
  PH_RETURN_IF_ERROR(r.Str("id", &c.id));
  PH_RETURN_IF_ERROR(r.Str("name", &c.name));
  PH_RETURN_IF_ERROR(r.Str("state", &c.state));
  PH_RETURN_IF_ERROR(r.OptStr("device", &c.device));
  PH_RETURN_IF_ERROR(r.OptStr("device_name", &c.device_name));
  PH_RETURN_IF_ERROR(r.OptStrings("args", &c.args));
  PH_RETURN_IF_ERROR(r.OptStr("created_by", &c.created_by));
  PH_RETURN_IF_ERROR(r.OptStr("created_at", &c.created_at));
  const Json* result = r.Find("result");
  if (result == nullptr || result->is_null()) return c;
  Reader rr(*result, "command result");
  PH_RETURN_IF_ERROR(rr.CheckObject());
  CommandResult res;
  const Json* success = rr.Find("success");
  if (success == nullptr || !success->is_boolean()) {
    return rr.MustBe("success", "a boolean");
  }
  res.success = success->get<bool>();
  PH_RETURN_IF_ERROR(rr.OptInt("exit_code", &res.exit_code));
  PH_RETURN_IF_ERROR(rr.OptStr("stdout", &res.stdout_text));
  PH_RETURN_IF_ERROR(rr.OptStr("stderr", &res.stderr_text));
  PH_RETURN_IF_ERROR(rr.OptStr("finished_at", &res.finished_at));
  if (const Json* e = rr.Find("error"); e && !e->is_null()) {
    if (e->is_string()) {
      res.error = e->get_ref<const std::string&>();
    } else if (e->is_object()) {
      // RAC's form: {"message": "..."}; anything else shown as JSON.
      auto m = e->find("message");
      if (m != e->end() && m->is_string()) {
        res.error = m->get_ref<const std::string&>();
      } else {
        auto dumped = tuf::DumpJson(*e);
        res.error = dumped.ok() ? *dumped : "(unprintable error)";
      }
    } else {
      return rr.MustBe("error", "a string, an object or null");
    }
  }
  c.result = std::move(res);
  return c;
}

Result<AuditEvent> ParseAuditEvent(const Json& j) {
  Reader r(j, "audit event");
  PH_RETURN_IF_ERROR(r.CheckObject());
  AuditEvent e;
  e.json = j;
  const Json* seq = r.Find("seq");
  if (seq == nullptr || !seq->is_number_unsigned()) {
    if (seq && seq->is_number_integer() && seq->get<int64_t>() >= 0) {
      e.seq = static_cast<uint64_t>(seq->get<int64_t>());
    } else {
      return r.MustBe("seq", "an integer >= 0");
    }
  } else {
    e.seq = seq->get<uint64_t>();
  }
  PH_RETURN_IF_ERROR(r.Str("at", &e.at));
  PH_RETURN_IF_ERROR(r.Str("kind", &e.kind));
  PH_RETURN_IF_ERROR(r.OptStr("device", &e.device));
  PH_RETURN_IF_ERROR(r.OptStr("session", &e.session));
  PH_RETURN_IF_ERROR(r.OptStr("actor", &e.actor));
  if (const Json* d = r.Find("details"); d && !d->is_null()) {
    if (!d->is_object()) return r.MustBe("details", "an object");
    e.details = *d;
  }
  return e;
}

Result<PolicyView> ParsePolicyView(const Json& j, std::string_view where) {
  Reader r(j, std::string(where));
  PH_RETURN_IF_ERROR(r.CheckObject());
  PolicyView p;
  if (const Json* keys = r.Find("authorized_keys"); keys && !keys->is_null()) {
    if (!keys->is_array() || keys->size() > kMaxListEntries) {
      return r.MustBe("authorized_keys", "an array");
    }
    for (const Json& k : *keys) {
      Reader kr(k, std::string(where) + " authorized key");
      PolicyView::Key key;
      PH_RETURN_IF_ERROR(kr.CheckObject());
      PH_RETURN_IF_ERROR(kr.Str("pubkey", &key.pubkey));
      PH_RETURN_IF_ERROR(kr.OptStr("name", &key.name));
      p.authorized_keys.push_back(std::move(key));
    }
  }
  PH_RETURN_IF_ERROR(r.OptStrings("ra_server_hosts", &p.ra_server_hosts));
  PH_RETURN_IF_ERROR(
      r.OptStrings("ra_server_ssh_pubkeys", &p.ra_server_ssh_pubkeys));
  if (const Json* cmds = r.Find("allowed_commands"); cmds && !cmds->is_null()) {
    if (!cmds->is_object() || cmds->size() > kMaxListEntries) {
      return r.MustBe("allowed_commands", "an object");
    }
    std::map<std::string, std::vector<std::string>> allowed;
    for (auto it = cmds->begin(); it != cmds->end(); ++it) {
      Reader ar(*cmds, std::string(where) + " allowed_commands");
      std::vector<std::string> args;
      PH_RETURN_IF_ERROR(ar.OptStrings(it.key().c_str(), &args));
      allowed[it.key()] = std::move(args);
    }
    p.allowed_commands = std::move(allowed);
  }
  return p;
}

Result<PolicyStatus> ParsePolicyStatus(const Json& j) {
  Reader r(j, "policy");
  PH_RETURN_IF_ERROR(r.CheckObject());
  PolicyStatus p;
  p.json = j;
  const std::pair<const char*, PolicyStatus::Role*> roles[] = {
      {"root", &p.root}, {"remote_sessions", &p.remote_sessions}};
  for (const auto& [name, role] : roles) {
    const Json* v = r.Find(name);
    if (v == nullptr || v->is_null()) continue;
    Reader rr(*v, std::string("policy ") + name);
    PH_RETURN_IF_ERROR(rr.CheckObject());
    int64_t version = 0;
    PH_RETURN_IF_ERROR(rr.OptInt("version", &version));
    if (version < 0) return rr.MustBe("version", "an integer >= 0");
    role->version = static_cast<uint64_t>(version);
    PH_RETURN_IF_ERROR(rr.OptStr("expires", &role->expires));
    PH_RETURN_IF_ERROR(rr.OptBool("keys_online", &role->keys_online));
  }
  PH_RETURN_IF_ERROR(r.OptBool("draft_published", &p.draft_published));
  for (const auto& [name, view] :
       {std::pair{"draft", &p.draft}, std::pair{"published", &p.published}}) {
    const Json* v = r.Find(name);
    if (v == nullptr || v->is_null()) continue;
    PH_ASSIGN_OR_RETURN(*view,
                        ParsePolicyView(*v, std::string("policy ") + name));
  }
  return p;
}

Result<std::vector<Device>> ParseDeviceList(const Json& j) {
  return ParseList<Device>(j, "devices", ParseDevice);
}
Result<std::vector<Session>> ParseSessionList(const Json& j) {
  return ParseList<Session>(j, "sessions", ParseSession);
}
Result<std::vector<Command>> ParseCommandList(const Json& j) {
  return ParseList<Command>(j, "commands", ParseCommand);
}
Result<std::vector<AuditEvent>> ParseAuditList(const Json& j) {
  return ParseList<AuditEvent>(j, "events", ParseAuditEvent);
}

}  // namespace porthole::cli
