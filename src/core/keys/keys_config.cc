#include "core/keys/keys_config.h"

#include <pwd.h>

#include <vector>

#include "core/base/file.h"
#include "core/config/toml.h"

namespace porthole::keys {

std::string_view TierName(Tier t) {
  switch (t) {
    case Tier::kRoot:
      return "root";
    case Tier::kFleet:
      return "fleet";
    case Tier::kTemporary:
      return "temporary";
    case Tier::kCustomer:
      return "customer";
    case Tier::kSession:
      return "session";
  }
  return "?";
}

Result<Tier> ParseTier(std::string_view name) {
  for (Tier t : kAllTiers) {
    if (name == TierName(t)) return t;
  }
  if (name == "tmp") return Tier::kTemporary;
  return Status::InvalidArgument(
      "unknown tier '" + std::string(name) +
      "' (root, fleet, temporary, customer, session)");
}

namespace {

// A config path is absolute, or "~/..." (the login user's home).
bool ValidPath(const std::string& p) {
  return !p.empty() && (p[0] == '/' || p.starts_with("~/")) &&
         p.find('\n') == std::string::npos;
}

// sshd_config needs a quoted token when the path has spaces.
std::string SshdToken(const std::string& s) {
  if (s.find_first_of(" \t\"") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) {
    if (c == '"') q += '\\';
    q += c;
  }
  return q + "\"";
}

}  // namespace

Result<std::string> KeysConfig::TierPath(Tier t) const {
  const std::string& p = TierSetting(t);
  if (!p.starts_with("~/")) return p;
  struct passwd* pw = getpwnam(login_user.c_str());
  if (pw == nullptr || pw->pw_dir == nullptr) {
    return Status::NotFound(source + ": login_user '" + login_user +
                            "' does not exist, so '" + p +
                            "' has no home directory");
  }
  return std::string(pw->pw_dir) + p.substr(1);
}

Result<KeysConfig> KeysConfig::Parse(std::string_view text,
                                     std::string source) {
  PH_ASSIGN_OR_RETURN(auto doc, config::TomlDocument::Parse(text, source));
  config::TomlTable root = doc.Root();
  KeysConfig c;
  c.source = source;
  PH_ASSIGN_OR_RETURN(auto keys, root.GetTable("keys"));
  if (keys) {
    std::vector<std::pair<const char*, std::string*>> paths = {
        {"root", &c.tiers[0]},      {"fleet", &c.tiers[1]},
        {"temporary", &c.tiers[2]}, {"customer", &c.tiers[3]},
        {"session", &c.tiers[4]},   {"krl", &c.krl},
        {"catalogue", &c.catalogue}};
    for (auto& [name, field] : paths) {
      PH_ASSIGN_OR_RETURN(auto v, keys->GetString(name));
      if (!v) continue;
      if (!ValidPath(*v)) {
        return Status::InvalidArgument(
            keys->Where(name) + ": must be an absolute path or start with ~/");
      }
      *field = *v;
    }
    PH_ASSIGN_OR_RETURN(auto user, keys->GetString("login_user"));
    if (user) {
      if (user->empty() ||
          user->find_first_of(" \t\n\",/:") != std::string::npos) {
        return Status::InvalidArgument(keys->Where("login_user") +
                                       ": not a valid user name");
      }
      c.login_user = *user;
    }
  }
  PH_RETURN_IF_ERROR(root.CheckNoUnknownKeys());
  if (c.krl.starts_with("~/")) {
    return Status::InvalidArgument(
        source + ": key 'keys.krl': must be an absolute path");
  }
  return c;
}

Result<KeysConfig> KeysConfig::Load(const std::string& path, bool missing_ok) {
  auto text = ReadFile(path, 1 << 20, true);
  if (!text.ok()) {
    if (missing_ok && text.status().code() == StatusCode::kNotFound) {
      return KeysConfig();
    }
    return text.status();
  }
  return Parse(*text, path);
}

std::string SshdDropIn(const KeysConfig& config) {
  std::string files;
  for (Tier t : kAllTiers) {
    std::string p = config.TierSetting(t);
    if (p.starts_with("~/")) p = "%h" + p.substr(1);
    files += " " + SshdToken(p);
  }
  return "# Written by `porthole keys install-sshd-config` from " +
         config.source +
         ".\n"
         "# Every key tier is read for the login user; revoked keys are "
         "refused\n"
         "# through the KRL even if a line of them remains somewhere.\n"
         "RevokedKeys " +
         SshdToken(config.krl) +
         "\n"
         "Match User " +
         config.login_user + "\n    AuthorizedKeysFile" + files + "\n";
}

}  // namespace porthole::keys
