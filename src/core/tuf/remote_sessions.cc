#include "core/tuf/remote_sessions.h"

#include <algorithm>

#include "core/tuf/rfc3339.h"

namespace porthole::tuf {
namespace {

constexpr char kSshWhere[] = "remote_sessions.ssh";

ErrorOr<keys::PublicKey> ParseKeyLine(const std::string& line,
                                      const std::string& where) {
  Result<keys::PublicKey> key = keys::ParsePublicKeyLine(line);
  if (!key.ok()) {
    return Error(ErrorCode::kMalformed, where + ": " + key.status().message());
  }
  return std::move(*key);
}

bool IsKnownCommand(std::string_view name) {
  return std::find(std::begin(kKnownCommands), std::end(kKnownCommands),
                   name) != std::end(kKnownCommands);
}

}  // namespace

ErrorOr<RemoteSessions> ParseRemoteSessions(const SignedDocument& doc) {
  const Json& s = doc.signed_value;
  const std::string& n = doc.name;
  TUF_RETURN_IF_ERROR(RequireType(s, kRemoteSessionsType, n));
  RemoteSessions rs;
  TUF_ASSIGN_OR_RETURN(rs.version, RequireUint(s, "version", 1, n));
  TUF_ASSIGN_OR_RETURN(rs.expires_text, RequireString(s, "expires", n));
  Result<SystemTime> expires = ParseRfc3339(rs.expires_text);
  if (!expires.ok()) {
    return Error(ErrorCode::kMalformed,
                 n + ": expires: " + expires.status().message());
  }
  rs.expires = *expires;
  const Json* sessions = FindMember(s, "remote_sessions");
  if (sessions == nullptr) {
    return Error(ErrorCode::kMalformed,
                 n + ": missing member 'remote_sessions'");
  }
  rs.remote_sessions = *sessions;
  const Json* commands = FindMember(s, "remote_commands");
  if (commands != nullptr && !commands->is_null()) {
    rs.remote_commands = *commands;
  }
  return rs;
}

ErrorOr<SshPolicy> ParseSshPolicy(const RemoteSessions& metadata) {
  TUF_ASSIGN_OR_RETURN(
      const Json* ssh,
      RequireObject(metadata.remote_sessions, "ssh", "remote_sessions"));
  TUF_ASSIGN_OR_RETURN(const Json* authorized,
                       RequireObject(*ssh, "authorized_keys", kSshWhere));
  SshPolicy policy;
  for (auto it = authorized->begin(); it != authorized->end(); ++it) {
    std::string where =
        std::string(kSshWhere) + ".authorized_keys." + Excerpt(it.key());
    if (!it.value().is_object()) {
      return Error(ErrorCode::kMalformed, where + ": must be an object");
    }
    TUF_ASSIGN_OR_RETURN(std::string line,
                         RequireString(it.value(), "pubkey", where));
    TUF_ASSIGN_OR_RETURN(keys::PublicKey key, ParseKeyLine(line, where));
    policy.authorized_keys.push_back(
        {it.key(), std::move(line), std::move(key)});
  }
  TUF_ASSIGN_OR_RETURN(policy.ra_server_hosts,
                       RequireStringArray(*ssh, "ra_server_hosts", kSshWhere));
  TUF_ASSIGN_OR_RETURN(
      std::vector<std::string> server_keys,
      RequireStringArray(*ssh, "ra_server_ssh_pubkeys", kSshWhere));
  for (size_t i = 0; i < server_keys.size(); ++i) {
    std::string where = std::string(kSshWhere) + ".ra_server_ssh_pubkeys[" +
                        std::to_string(i) + "]";
    TUF_ASSIGN_OR_RETURN(keys::PublicKey key,
                         ParseKeyLine(server_keys[i], where));
    policy.ra_server_ssh_pubkeys.push_back(
        {std::move(server_keys[i]), std::move(key)});
  }
  return policy;
}

bool CommandPolicy::Allows(std::string_view name,
                           const std::vector<std::string>& args) const {
  auto it = allowed.find(std::string(name));
  if (it == allowed.end()) return false;
  const std::vector<std::string>& ok = it->second;
  return std::all_of(args.begin(), args.end(), [&](const std::string& a) {
    return std::find(ok.begin(), ok.end(), a) != ok.end();
  });
}

ErrorOr<std::optional<CommandPolicy>> ParseCommandPolicy(
    const RemoteSessions& metadata) {
  if (!metadata.remote_commands) return std::optional<CommandPolicy>();
  const Json& rc = *metadata.remote_commands;
  if (!rc.is_object()) {
    return Error(ErrorCode::kMalformed, "remote_commands: must be an object");
  }
  TUF_ASSIGN_OR_RETURN(
      const Json* allowed,
      RequireObject(rc, "allowed_commands", "remote_commands"));
  CommandPolicy policy;
  for (auto it = allowed->begin(); it != allowed->end(); ++it) {
    if (!IsKnownCommand(it.key())) continue;
    std::string where = "remote_commands.allowed_commands." + it.key();
    if (!it.value().is_object()) {
      return Error(ErrorCode::kMalformed, where + ": must be an object");
    }
    TUF_ASSIGN_OR_RETURN(std::vector<std::string> args,
                         RequireStringArray(it.value(), "args", where));
    policy.allowed.emplace(it.key(), std::move(args));
  }
  return std::optional<CommandPolicy>(std::move(policy));
}

}  // namespace porthole::tuf
