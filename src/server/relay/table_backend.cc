#include "server/relay/table_backend.h"

#include <algorithm>
#include <set>
#include <utility>

#include "core/base/file.h"
#include "core/tuf/json.h"
#include "core/tuf/rfc3339.h"
#include "server/relay/relay.h"

namespace porthole::server::relay {
namespace {

using tuf::Json;

constexpr size_t kMaxTableBytes = 16 * 1024 * 1024;

// Checks that `object` (at `where`) is an object with exactly the members
// `required` plus any of `optional`.
Status CheckMembers(const Json& object, const std::string& where,
                    const std::set<std::string>& required,
                    const std::set<std::string>& optional = {}) {
  if (!object.is_object()) {
    return Status::InvalidArgument(where + ": must be an object");
  }
  for (const auto& [name, value] : object.items()) {
    if (!required.count(name) && !optional.count(name)) {
      return Status::InvalidArgument(where + ": unknown member '" +
                                     tuf::Excerpt(name) + "'");
    }
  }
  for (const std::string& name : required) {
    if (tuf::FindMember(object, name) == nullptr) {
      return Status::InvalidArgument(where + ": missing member '" + name + "'");
    }
  }
  return Status::Ok();
}

Result<std::string> StringMember(const Json& object, const std::string& name,
                                 const std::string& where) {
  const Json* v = tuf::FindMember(object, name);
  if (v == nullptr || !v->is_string()) {
    return Status::InvalidArgument(where + "." + name + ": must be a string");
  }
  return v->get<std::string>();
}

Result<keys::PublicKey> KeyLine(const std::string& line,
                                const std::string& where) {
  Result<keys::PublicKey> key = keys::ParsePublicKeyLine(line);
  if (!key.ok()) {
    return Status::InvalidArgument(where + ": " + key.status().message());
  }
  return key;
}

Result<TableDevice> ParseDevice(const Json& d, const std::string& where) {
  PH_RETURN_IF_ERROR(CheckMembers(d, where, {"id", "name"}, {"key"}));
  TableDevice dev;
  PH_ASSIGN_OR_RETURN(std::string id, StringMember(d, "id", where));
  if (!NormalizeUuid(id, &dev.id)) {
    return Status::InvalidArgument(where + ".id: '" + tuf::Excerpt(id) +
                                   "' is not a UUID");
  }
  PH_ASSIGN_OR_RETURN(dev.name, StringMember(d, "name", where));
  std::string ignored;
  if (dev.name.empty() || NormalizeUuid(dev.name, &ignored)) {
    return Status::InvalidArgument(where +
                                   ".name: must be non-empty and not a UUID");
  }
  const Json* key = tuf::FindMember(d, "key");
  if (key != nullptr && !key->is_null()) {
    if (!key->is_string()) {
      return Status::InvalidArgument(where + ".key: must be a string or null");
    }
    PH_ASSIGN_OR_RETURN(dev.key,
                        KeyLine(key->get<std::string>(), where + ".key"));
  }
  return dev;
}

Result<TableSession> ParseSession(const Json& s, const std::string& where) {
  PH_RETURN_IF_ERROR(CheckMembers(
      s, where, {"id", "device", "port", "operator_keys", "expires"}));
  TableSession session;
  PH_ASSIGN_OR_RETURN(session.id, StringMember(s, "id", where));
  PH_ASSIGN_OR_RETURN(std::string device, StringMember(s, "device", where));
  if (!NormalizeUuid(device, &session.device)) {
    return Status::InvalidArgument(where + ".device: '" + tuf::Excerpt(device) +
                                   "' is not a UUID");
  }
  const Json* port = tuf::FindMember(s, "port");
  if (!port->is_number_integer() && !port->is_number_unsigned()) {
    return Status::InvalidArgument(where + ".port: must be an integer");
  }
  int64_t p = port->is_number_unsigned()
                  ? static_cast<int64_t>(
                        std::min<uint64_t>(port->get<uint64_t>(), 1u << 20))
                  : port->get<int64_t>();
  if (p < 1 || p > 65535) {
    return Status::InvalidArgument(where + ".port: " + std::to_string(p) +
                                   " is not a port (1..65535)");
  }
  session.port = static_cast<uint16_t>(p);
  const Json* keys_json = tuf::FindMember(s, "operator_keys");
  if (!keys_json->is_array()) {
    return Status::InvalidArgument(where + ".operator_keys: must be an array");
  }
  size_t i = 0;
  for (const Json& k : *keys_json) {
    std::string kw = where + ".operator_keys[" + std::to_string(i++) + "]";
    if (!k.is_string()) {
      return Status::InvalidArgument(kw + ": must be a string");
    }
    PH_ASSIGN_OR_RETURN(keys::PublicKey key, KeyLine(k.get<std::string>(), kw));
    session.operator_keys.push_back(std::move(key));
  }
  PH_ASSIGN_OR_RETURN(std::string expires, StringMember(s, "expires", where));
  Result<SystemTime> t = tuf::ParseRfc3339(expires);
  if (!t.ok()) {
    return Status::InvalidArgument(where + ".expires: " + t.status().message());
  }
  session.expires = *t;
  return session;
}

}  // namespace

Result<Table> ParseTable(std::string_view json, std::string_view where_view) {
  std::string where(where_view);
  tuf::ErrorOr<Json> doc = tuf::ParseJson(json);
  if (!doc.ok()) {
    return Status::InvalidArgument(where + ": " + doc.error().message());
  }
  PH_RETURN_IF_ERROR(CheckMembers(*doc, where, {"devices", "sessions"}));
  const Json& devices = *tuf::FindMember(*doc, "devices");
  const Json& sessions = *tuf::FindMember(*doc, "sessions");
  if (!devices.is_array() || !sessions.is_array()) {
    return Status::InvalidArgument(where +
                                   ": devices and sessions must be arrays");
  }
  Table table;
  std::set<std::string> ids, names;
  size_t i = 0;
  for (const Json& d : devices) {
    std::string w = where + ": devices[" + std::to_string(i++) + "]";
    PH_ASSIGN_OR_RETURN(TableDevice dev, ParseDevice(d, w));
    if (!ids.insert(dev.id).second) {
      return Status::InvalidArgument(w + ".id: duplicate " + dev.id);
    }
    if (!names.insert(dev.name).second) {
      return Status::InvalidArgument(w + ".name: duplicate '" +
                                     tuf::Excerpt(dev.name) + "'");
    }
    table.devices.push_back(std::move(dev));
  }
  std::set<std::string> session_ids;
  std::set<uint16_t> ports;
  i = 0;
  for (const Json& s : sessions) {
    std::string w = where + ": sessions[" + std::to_string(i++) + "]";
    PH_ASSIGN_OR_RETURN(TableSession session, ParseSession(s, w));
    if (!session_ids.insert(session.id).second) {
      return Status::InvalidArgument(w + ".id: duplicate '" +
                                     tuf::Excerpt(session.id) + "'");
    }
    if (!ids.count(session.device)) {
      return Status::InvalidArgument(w + ".device: no device " +
                                     session.device);
    }
    if (!ports.insert(session.port).second) {
      return Status::InvalidArgument(w + ".port: duplicate " +
                                     std::to_string(session.port));
    }
    table.sessions.push_back(std::move(session));
  }
  return table;
}

Result<Table> LoadTable(const std::string& path) {
  Result<std::string> text = ReadFile(path, kMaxTableBytes, true);
  if (!text.ok()) return text.status();
  return ParseTable(*text, path);
}

TableBackend::TableBackend(const Clock& clock,
                           std::function<void(const RelayEvent&)> report)
    : clock_(clock), report_(std::move(report)) {}

void TableBackend::Replace(Table table) {
  std::lock_guard<std::mutex> lock(mu_);
  table_ = std::move(table);
  device_by_id_.clear();
  device_by_name_.clear();
  sessions_by_device_.clear();
  sessions_by_key_.clear();
  for (size_t i = 0; i < table_.devices.size(); ++i) {
    device_by_id_.emplace(table_.devices[i].id, i);
    device_by_name_.emplace(table_.devices[i].name, i);
  }
  for (size_t i = 0; i < table_.sessions.size(); ++i) {
    const TableSession& s = table_.sessions[i];
    sessions_by_device_.emplace(s.device, i);
    std::set<std::string> seen;  // a key listed twice gives one session
    for (const keys::PublicKey& k : s.operator_keys) {
      if (seen.insert(k.blob).second) sessions_by_key_.emplace(k.blob, i);
    }
  }
}

LiveSession TableBackend::ToLive(const TableSession& s) const {
  LiveSession live;
  live.session_id = s.id;
  live.device_id = s.device;
  auto d = device_by_id_.find(s.device);
  if (d != device_by_id_.end())
    live.device_name = table_.devices[d->second].name;
  live.reverse_port = s.port;
  live.operator_keys = s.operator_keys;
  live.expires_at = s.expires;
  return live;
}

std::optional<keys::PublicKey> TableBackend::DeviceKey(
    const std::string& device_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto d = device_by_id_.find(device_id);
  if (d == device_by_id_.end()) return std::nullopt;
  return table_.devices[d->second].key;
}

std::optional<LiveSession> TableBackend::LiveSessionOfDevice(
    const std::string& device_id) {
  std::lock_guard<std::mutex> lock(mu_);
  SystemTime now = clock_.Now();
  // The first live one in table order.
  std::optional<size_t> first;
  auto [b, e] = sessions_by_device_.equal_range(device_id);
  for (auto it = b; it != e; ++it) {
    if (now < table_.sessions[it->second].expires &&
        (!first || it->second < *first)) {
      first = it->second;
    }
  }
  if (!first) return std::nullopt;
  return ToLive(table_.sessions[*first]);
}

std::vector<LiveSession> TableBackend::LiveSessionsForOperatorKey(
    const keys::PublicKey& key) {
  std::lock_guard<std::mutex> lock(mu_);
  SystemTime now = clock_.Now();
  std::vector<size_t> hits;
  auto [b, e] = sessions_by_key_.equal_range(key.blob);
  for (auto it = b; it != e; ++it) {
    if (now < table_.sessions[it->second].expires) hits.push_back(it->second);
  }
  std::sort(hits.begin(), hits.end());  // table order
  std::vector<LiveSession> out;
  for (size_t i : hits) out.push_back(ToLive(table_.sessions[i]));
  return out;
}

std::optional<std::string> TableBackend::ResolveDevice(
    const std::string& name_or_id) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string id;
  if (NormalizeUuid(name_or_id, &id) && device_by_id_.count(id)) return id;
  auto d = device_by_name_.find(name_or_id);
  if (d == device_by_name_.end()) return std::nullopt;
  return table_.devices[d->second].id;
}

void TableBackend::Report(const RelayEvent& event) {
  if (report_) report_(event);
}

}  // namespace porthole::server::relay
