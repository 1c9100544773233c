#include "server/director/policy.h"

#include <algorithm>
#include <set>

#include "core/keys/public_key.h"
#include "core/tuf/json.h"
#include "core/tuf/remote_sessions.h"

namespace porthole::server::director {
namespace {

constexpr size_t kMaxNameBytes = 64;
constexpr size_t kMaxHostBytes = 253;
constexpr size_t kMaxArgBytes = 256;

bool IsKnownCommand(std::string_view name) {
  for (std::string_view known : tuf::kKnownCommands) {
    if (known == name) return true;
  }
  return false;
}

// The line without trailing whitespace (as stored and signed).
std::string Trimmed(std::string_view line) {
  size_t end = line.find_last_not_of(" \t\r\n");
  size_t begin = line.find_first_not_of(" \t");
  if (end == std::string_view::npos) return "";
  return std::string(line.substr(begin, end - begin + 1));
}

// A plain key line (a certificate or options are refused: devices compare
// key material, and RAC's parser takes plain keys only).
Result<keys::PublicKey> ParsePlainKey(std::string_view line) {
  Result<keys::PublicKey> key = keys::ParsePublicKeyLine(line);
  if (!key.ok()) {
    return Status::InvalidArgument("key '" + std::string(line.substr(0, 40)) +
                                   "...': " + key.status().message());
  }
  if (key->certificate) {
    return Status::InvalidArgument("key " + key->Fingerprint() +
                                   ": certificates are not allowed");
  }
  if (Trimmed(line).find_first_of("\r\n") != std::string::npos) {
    return Status::InvalidArgument("key: more than one line");
  }
  return key;
}

Status CheckName(std::string_view name) {
  if (name.size() > kMaxNameBytes) {
    return Status::InvalidArgument("name '" + std::string(name.substr(0, 20)) +
                                   "...': longer than 64 bytes");
  }
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f || c == '"' || c == '\\') {
      return Status::InvalidArgument(
          "name '" + std::string(name) +
          "': control characters, quotes and backslashes are not allowed");
    }
  }
  return Status::Ok();
}

Status CheckHost(std::string_view host) {
  if (host.empty() || host.size() > kMaxHostBytes) {
    return Status::InvalidArgument("relay host '" + std::string(host) +
                                   "': must be 1 to 253 bytes");
  }
  for (char c : host) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '-' || c == ':' ||
              c == '[' || c == ']' || c == '_';
    if (!ok) {
      return Status::InvalidArgument("relay host '" + std::string(host) +
                                     "': not a host name or IP literal");
    }
  }
  return Status::Ok();
}

Status CheckArg(std::string_view arg) {
  if (arg.empty() || arg.size() > kMaxArgBytes) {
    return Status::InvalidArgument("command argument '" + std::string(arg) +
                                   "': must be 1 to 256 bytes");
  }
  for (unsigned char c : arg) {
    if (c < 0x20 || c == 0x7f) {
      return Status::InvalidArgument(
          "command argument: control characters are not allowed");
    }
  }
  return Status::Ok();
}

// Finds the key matching a line (by material), a fingerprint or a name.
// Returns indexes into `keys`.
std::vector<size_t> MatchKeys(const std::vector<PolicyKey>& keys,
                              std::string_view what, bool* by_name) {
  std::vector<size_t> found;
  *by_name = false;
  Result<keys::PublicKey> as_key = keys::ParsePublicKeyLine(what);
  for (size_t i = 0; i < keys.size(); ++i) {
    Result<keys::PublicKey> k = keys::ParsePublicKeyLine(keys[i].line);
    if (!k.ok()) continue;
    if (as_key.ok() ? *k == *as_key : k->Fingerprint() == what) {
      found.push_back(i);
    }
  }
  if (found.empty() && !as_key.ok()) {
    for (size_t i = 0; i < keys.size(); ++i) {
      if (!keys[i].name.empty() && keys[i].name == what) found.push_back(i);
    }
    *by_name = !found.empty();
  }
  return found;
}

}  // namespace

Status Policy::AllowKey(std::string_view line, std::string_view name) {
  PH_ASSIGN_OR_RETURN(keys::PublicKey key, ParsePlainKey(line));
  PH_RETURN_IF_ERROR(CheckName(name));
  PolicyKey entry{Trimmed(line), std::string(name)};
  for (PolicyKey& existing : authorized_keys) {
    Result<keys::PublicKey> k = keys::ParsePublicKeyLine(existing.line);
    if (k.ok() && *k == key) {
      existing = std::move(entry);
      return Status::Ok();
    }
  }
  authorized_keys.push_back(std::move(entry));
  return Status::Ok();
}

Status Policy::DenyKey(std::string_view what) {
  bool by_name = false;
  std::vector<size_t> found = MatchKeys(authorized_keys, what, &by_name);
  if (found.empty()) {
    return Status::NotFound("no allowed key matches '" + std::string(what) +
                            "'");
  }
  if (by_name && found.size() > 1) {
    return Status::InvalidArgument("name '" + std::string(what) + "' matches " +
                                   std::to_string(found.size()) +
                                   " keys; give the key or its fingerprint");
  }
  for (auto it = found.rbegin(); it != found.rend(); ++it) {
    authorized_keys.erase(authorized_keys.begin() +
                          static_cast<std::ptrdiff_t>(*it));
  }
  return Status::Ok();
}

Status Policy::AllowCommand(std::string_view name,
                            const std::vector<std::string>& args) {
  if (!IsKnownCommand(name)) {
    return Status::InvalidArgument(
        "command '" + std::string(name) +
        "': devices know only reboot, restart-service and echo");
  }
  for (const std::string& arg : args) PH_RETURN_IF_ERROR(CheckArg(arg));
  if (!commands) commands.emplace();
  std::vector<std::string> unique;
  for (const std::string& arg : args) {
    if (std::find(unique.begin(), unique.end(), arg) == unique.end()) {
      unique.push_back(arg);
    }
  }
  (*commands)[std::string(name)] = std::move(unique);
  return Status::Ok();
}

Status Policy::DenyCommand(std::string_view name) {
  if (!commands || commands->erase(std::string(name)) == 0) {
    return Status::NotFound("command '" + std::string(name) +
                            "' is not allowed");
  }
  return Status::Ok();
}

Status Policy::AllowRelayHost(std::string_view host) {
  PH_RETURN_IF_ERROR(CheckHost(host));
  for (const std::string& h : relay_hosts) {
    if (h == host) return Status::Ok();
  }
  relay_hosts.emplace_back(host);
  return Status::Ok();
}

Status Policy::DenyRelayHost(std::string_view host) {
  auto it = std::find(relay_hosts.begin(), relay_hosts.end(), host);
  if (it == relay_hosts.end()) {
    return Status::NotFound("relay host '" + std::string(host) +
                            "' is not allowed");
  }
  relay_hosts.erase(it);
  return Status::Ok();
}

Status Policy::AllowRelayKey(std::string_view line) {
  PH_ASSIGN_OR_RETURN(keys::PublicKey key, ParsePlainKey(line));
  for (std::string& existing : relay_keys) {
    Result<keys::PublicKey> k = keys::ParsePublicKeyLine(existing);
    if (k.ok() && *k == key) {
      existing = Trimmed(line);
      return Status::Ok();
    }
  }
  relay_keys.push_back(Trimmed(line));
  return Status::Ok();
}

Status Policy::DenyRelayKey(std::string_view what) {
  std::vector<PolicyKey> as_keys;
  for (const std::string& line : relay_keys) as_keys.push_back({line, ""});
  bool by_name = false;
  std::vector<size_t> found = MatchKeys(as_keys, what, &by_name);
  if (found.empty()) {
    return Status::NotFound("no relay key matches '" + std::string(what) + "'");
  }
  for (auto it = found.rbegin(); it != found.rend(); ++it) {
    relay_keys.erase(relay_keys.begin() + static_cast<std::ptrdiff_t>(*it));
  }
  return Status::Ok();
}

tuf::RemoteSessionsSpec Policy::ToSpec(uint64_t version,
                                       SystemTime expires) const {
  tuf::RemoteSessionsSpec spec;
  spec.version = version;
  spec.expires = expires;
  for (const PolicyKey& k : authorized_keys) {
    spec.authorized_keys.push_back(k.line);
    spec.authorized_key_names.push_back(k.name);
  }
  spec.ra_server_hosts = relay_hosts;
  spec.ra_server_ssh_pubkeys = relay_keys;
  spec.allowed_commands = commands;
  return spec;
}

Result<Policy> ParsePolicy(std::string_view text, std::string_view where) {
  auto bad = [&](const std::string& reason) {
    return Status::InvalidArgument(std::string(where) + ": " + reason);
  };
  tuf::ErrorOr<tuf::Json> parsed = tuf::ParseJson(text);
  if (!parsed.ok()) return bad(parsed.error().message());
  const tuf::Json& json = *parsed;
  if (!json.is_object()) return bad("not a JSON object");
  static const std::set<std::string> kMembers = {
      "authorized_keys", "ra_server_hosts", "ra_server_ssh_pubkeys",
      "allowed_commands"};
  for (const auto& [key, value] : json.items()) {
    if (!kMembers.count(key)) return bad("unknown member '" + key + "'");
  }
  Policy policy;
  if (const tuf::Json* keys = tuf::FindMember(json, "authorized_keys")) {
    if (!keys->is_array()) return bad("authorized_keys must be an array");
    for (const tuf::Json& k : *keys) {
      if (!k.is_object()) return bad("authorized_keys entries must be objects");
      const tuf::Json* line = tuf::FindMember(k, "pubkey");
      const tuf::Json* name = tuf::FindMember(k, "name");
      if (!line || !line->is_string()) {
        return bad("authorized_keys entry without a string pubkey");
      }
      if (name && !name->is_string()) {
        return bad("authorized_keys name must be a string");
      }
      for (const auto& [member, value] : k.items()) {
        if (member != "pubkey" && member != "name") {
          return bad("authorized_keys entry: unknown member '" + member + "'");
        }
      }
      Status s = policy.AllowKey(line->get<std::string>(),
                                 name ? name->get<std::string>() : "");
      if (!s.ok()) return bad(s.message());
    }
  }
  for (const char* member : {"ra_server_hosts", "ra_server_ssh_pubkeys"}) {
    const tuf::Json* list = tuf::FindMember(json, member);
    if (!list) continue;
    if (!list->is_array())
      return bad(std::string(member) + " must be an array");
    for (const tuf::Json& v : *list) {
      if (!v.is_string()) {
        return bad(std::string(member) + " entries must be strings");
      }
      Status s = std::string_view(member) == "ra_server_hosts"
                     ? policy.AllowRelayHost(v.get<std::string>())
                     : policy.AllowRelayKey(v.get<std::string>());
      if (!s.ok()) return bad(s.message());
    }
  }
  if (const tuf::Json* cmds = tuf::FindMember(json, "allowed_commands")) {
    if (!cmds->is_object()) return bad("allowed_commands must be an object");
    policy.commands.emplace();
    for (const auto& [name, args] : cmds->items()) {
      if (!args.is_array()) {
        return bad("allowed_commands." + name + " must be an array");
      }
      std::vector<std::string> list;
      for (const tuf::Json& a : args) {
        if (!a.is_string()) {
          return bad("allowed_commands." + name + " entries must be strings");
        }
        list.push_back(a.get<std::string>());
      }
      Status s = policy.AllowCommand(name, list);
      if (!s.ok()) return bad(s.message());
    }
  }
  return policy;
}

std::string FormatPolicy(const Policy& policy) {
  tuf::Json keys = tuf::Json::array();
  for (const PolicyKey& k : policy.authorized_keys) {
    tuf::Json entry{{"pubkey", k.line}};
    if (!k.name.empty()) entry["name"] = k.name;
    keys.push_back(std::move(entry));
  }
  tuf::Json json{{"authorized_keys", std::move(keys)},
                 {"ra_server_hosts", policy.relay_hosts},
                 {"ra_server_ssh_pubkeys", policy.relay_keys}};
  if (policy.commands) {
    tuf::Json cmds = tuf::Json::object();
    for (const auto& [name, args] : *policy.commands) cmds[name] = args;
    json["allowed_commands"] = std::move(cmds);
  }
  // Every string went through the checks above, so this cannot fail.
  tuf::ErrorOr<std::string> text = tuf::DumpJsonPretty(json);
  return text.ok() ? *text : std::string("{}\n");
}

Result<Policy> PolicyFromMetadata(const tuf::RemoteSessions& metadata) {
  tuf::ErrorOr<tuf::SshPolicy> ssh = tuf::ParseSshPolicy(metadata);
  if (!ssh.ok()) return Status::InvalidArgument(ssh.error().message());
  Policy policy;
  const tuf::Json* authorized = nullptr;
  if (const tuf::Json* s = tuf::FindMember(metadata.remote_sessions, "ssh")) {
    authorized = tuf::FindMember(*s, "authorized_keys");
  }
  for (const tuf::SshPolicy::AuthorizedKey& k : ssh->authorized_keys) {
    std::string name;
    if (authorized) {
      if (const tuf::Json* entry = tuf::FindMember(*authorized, k.id)) {
        if (const tuf::Json* meta = tuf::FindMember(*entry, "meta")) {
          if (const tuf::Json* n = tuf::FindMember(*meta, "name");
              n && n->is_string()) {
            name = n->get<std::string>();
          }
        }
      }
    }
    if (!CheckName(name).ok()) name.clear();
    PH_RETURN_IF_ERROR(policy.AllowKey(k.line, name));
  }
  for (const std::string& host : ssh->ra_server_hosts) {
    PH_RETURN_IF_ERROR(policy.AllowRelayHost(host));
  }
  for (const tuf::SshPolicy::ServerKey& k : ssh->ra_server_ssh_pubkeys) {
    PH_RETURN_IF_ERROR(policy.AllowRelayKey(k.line));
  }
  tuf::ErrorOr<std::optional<tuf::CommandPolicy>> cmds =
      tuf::ParseCommandPolicy(metadata);
  if (!cmds.ok()) return Status::InvalidArgument(cmds.error().message());
  if (*cmds) {
    policy.commands.emplace();
    for (const auto& [name, args] : (*cmds)->allowed) {
      PH_RETURN_IF_ERROR(policy.AllowCommand(name, args));
    }
  }
  return policy;
}

}  // namespace porthole::server::director
