// Where a host keeps its key tiers: the [keys] table of keys.toml.
//
//   [keys]
//   login_user = "porthole"
//   root      = "/etc/porthole/ssh/root_authorized_keys"
//   fleet     = "/etc/porthole/ssh/fleet_authorized_keys"
//   temporary = "/etc/porthole/ssh/tmp_authorized_keys"
//   customer  = "~/.ssh/authorized_keys"     # ~ is login_user's home
//   session   = "/etc/porthole/ssh/session_authorized_keys"
//   krl       = "/etc/porthole/ssh/revoked_keys.krl"
//   catalogue = "/etc/porthole/catalogue.toml"
//
// Every key is optional (the defaults above, from KEYS.md); unknown keys and
// relative paths are errors naming the key.
#ifndef PORTHOLE_CORE_KEYS_KEYS_CONFIG_H_
#define PORTHOLE_CORE_KEYS_KEYS_CONFIG_H_

#include <array>
#include <string>
#include <string_view>

#include "core/base/status.h"

namespace porthole::keys {

enum class Tier { kRoot, kFleet, kTemporary, kCustomer, kSession };
inline constexpr std::array<Tier, 5> kAllTiers = {
    Tier::kRoot, Tier::kFleet, Tier::kTemporary, Tier::kCustomer,
    Tier::kSession};

std::string_view TierName(Tier t);
// "root", "fleet", "temporary" (or "tmp"), "customer", "session".
Result<Tier> ParseTier(std::string_view name);

inline constexpr char kDefaultKeysConfig[] = "/etc/porthole/keys.toml";

struct KeysConfig {
  std::string source = "<defaults>";  // the file it came from
  std::string login_user = "porthole";
  std::array<std::string, 5> tiers = {
      "/etc/porthole/ssh/root_authorized_keys",
      "/etc/porthole/ssh/fleet_authorized_keys",
      "/etc/porthole/ssh/tmp_authorized_keys",
      "~/.ssh/authorized_keys",
      "/etc/porthole/ssh/session_authorized_keys",
  };
  std::string krl = "/etc/porthole/ssh/revoked_keys.krl";
  std::string catalogue = "/etc/porthole/catalogue.toml";

  // The tier's file as configured ("~/..." unresolved).
  const std::string& TierSetting(Tier t) const {
    return tiers[static_cast<size_t>(t)];
  }
  // The tier's file with "~/" resolved to login_user's home directory; an
  // error if that user does not exist.
  Result<std::string> TierPath(Tier t) const;

  // Parses TOML text; `source` names it in errors.
  static Result<KeysConfig> Parse(std::string_view text, std::string source);
  // Reads `path`; when `missing_ok` and the file does not exist, defaults.
  static Result<KeysConfig> Load(const std::string& path, bool missing_ok);
};

// The sshd_config drop-in naming every tier in one AuthorizedKeysFile line for
// login_user, and the KRL in RevokedKeys.
std::string SshdDropIn(const KeysConfig& config);

}  // namespace porthole::keys

#endif  // PORTHOLE_CORE_KEYS_KEYS_CONFIG_H_
