#include "core/tuf/root.h"

#include <algorithm>
#include <set>

#include "core/tuf/rfc3339.h"

namespace porthole::tuf {
namespace {

ErrorOr<RoleKeys> ParseRoleKeys(const Json& json, const std::string& where) {
  if (!json.is_object()) {
    return Error(ErrorCode::kMalformed, where + ": must be an object");
  }
  RoleKeys role;
  TUF_ASSIGN_OR_RETURN(std::vector<std::string> ids,
                       RequireStringArray(json, "keyids", where));
  for (const std::string& id : ids) {
    std::optional<std::string> norm = NormalizeKeyId(id);
    if (!norm) {
      return Error(ErrorCode::kBadKeyId,
                   where + ": keyid '" + Excerpt(id) + "' is not hex");
    }
    role.keyids.push_back(std::move(*norm));
  }
  TUF_ASSIGN_OR_RETURN(role.threshold,
                       RequireUint(json, "threshold", 1, where));
  return role;
}

}  // namespace

bool RoleKeys::SameKeysAs(const RoleKeys& o) const {
  return threshold == o.threshold &&
         std::set<std::string>(keyids.begin(), keyids.end()) ==
             std::set<std::string>(o.keyids.begin(), o.keyids.end());
}

const RoleKeys* Root::FindRole(std::string_view name) const {
  auto it = roles.find(std::string(name));
  return it == roles.end() ? nullptr : &it->second;
}

ErrorOr<Root> ParseRoot(const SignedDocument& doc) {
  const Json& s = doc.signed_value;
  const std::string& n = doc.name;
  TUF_RETURN_IF_ERROR(RequireType(s, "Root", n));

  Root root;
  TUF_ASSIGN_OR_RETURN(bool consistent,
                       RequireBool(s, "consistent_snapshot", n));
  (void)consistent;  // required by tough, unused
  TUF_ASSIGN_OR_RETURN(root.version, RequireUint(s, "version", 1, n));
  TUF_ASSIGN_OR_RETURN(root.expires_text, RequireString(s, "expires", n));
  Result<SystemTime> expires = ParseRfc3339(root.expires_text);
  if (!expires.ok()) {
    return Error(ErrorCode::kMalformed,
                 n + ": expires: " + expires.status().message());
  }
  root.expires = *expires;

  TUF_ASSIGN_OR_RETURN(const Json* keys, RequireObject(s, "keys", n));
  for (auto it = keys->begin(); it != keys->end(); ++it) {
    const std::string& listed = it.key();
    std::string where = n + ": key " + Excerpt(listed);
    std::optional<std::string> id = NormalizeKeyId(listed);
    if (!id) {
      return Error(ErrorCode::kBadKeyId, where + ": keyid is not hex");
    }
    if (root.keys.count(*id) != 0) {
      return Error(ErrorCode::kBadKeyId, where + ": duplicate keyid");
    }
    TUF_ASSIGN_OR_RETURN(Key key, ParseKey(it.value(), where));
    if (key.keyid != *id) {
      return Error(ErrorCode::kBadKeyId,
                   where + ": keyid does not match the key (computed " +
                       key.keyid + ")");
    }
    root.keys.emplace(std::move(*id), std::move(key));
  }

  TUF_ASSIGN_OR_RETURN(const Json* roles, RequireObject(s, "roles", n));
  for (auto it = roles->begin(); it != roles->end(); ++it) {
    TUF_ASSIGN_OR_RETURN(
        RoleKeys role,
        ParseRoleKeys(it.value(), n + ": role " + Excerpt(it.key())));
    root.roles.emplace(it.key(), std::move(role));
  }
  return root;
}

Error VerifyRole(const SignedDocument& doc, const Root& root,
                 std::string_view role_name) {
  const RoleKeys* role = root.FindRole(role_name);
  if (role == nullptr) {
    return Error(ErrorCode::kMissingRole, doc.name + ": role " +
                                              std::string(role_name) +
                                              " not set in root.json");
  }
  std::set<std::string> valid;
  for (const Signature& sig : doc.signatures) {
    if (valid.count(sig.keyid) != 0) continue;  // counted already
    if (std::find(role->keyids.begin(), role->keyids.end(), sig.keyid) ==
        role->keyids.end()) {
      continue;
    }
    auto key = root.keys.find(sig.keyid);
    if (key == root.keys.end()) continue;
    if (key->second.verifier.Verify(doc.canonical, sig.sig)) {
      valid.insert(sig.keyid);
    }
  }
  if (valid.size() < role->threshold) {
    return Error(ErrorCode::kThresholdNotMet,
                 doc.name + ": signature threshold of " +
                     std::to_string(role->threshold) + " not met for role " +
                     std::string(role_name) + " (" +
                     std::to_string(valid.size()) + " valid signatures)");
  }
  return Error::None();
}

}  // namespace porthole::tuf
