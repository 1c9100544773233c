// The catalogue of known keys: IDs an operator can name instead of pasting a
// key line, and the revoked keys that must never get in again.
//
// Format (TOML):
//   [known]
//   "alice@yubikey16719472" = "sk-ssh-ed25519@openssh.com AAAA... alice@..."
//   "repair@shop1" = 'restrict,pty,command="/usr/bin/fleet" ssh-rsa AAAA...'
//   [revoked]
//   "bob@lost-laptop" = "ssh-ed25519 AAAA... bob@lost-laptop"
// Every value is a full authorized_keys line (options allowed). A key that is
// both known and revoked, an ID used twice, or a bad line is an error naming
// the file and ID. Keys compare by key material only.
#ifndef PORTHOLE_CORE_KEYS_CATALOGUE_H_
#define PORTHOLE_CORE_KEYS_CATALOGUE_H_

#include <string>
#include <string_view>
#include <vector>

#include "core/base/status.h"
#include "core/keys/authorized_key.h"

namespace porthole::keys {

struct CatalogueEntry {
  std::string id;
  AuthorizedKey line;
};

class Catalogue {
 public:
  Catalogue() = default;

  // Parses catalogue TOML; `source` names it in errors.
  static Result<Catalogue> Parse(std::string_view text, std::string source);
  // Reads and parses a file. A missing file is an empty catalogue when
  // `missing_ok`.
  static Result<Catalogue> Load(const std::string& path, bool missing_ok);

  // Adds `other`'s entries. The same ID with another key, or a key known in
  // one and revoked in the other, is an error.
  Status Merge(const Catalogue& other);

  const std::vector<CatalogueEntry>& known() const { return known_; }
  const std::vector<CatalogueEntry>& revoked() const { return revoked_; }

  const CatalogueEntry* FindKnownId(std::string_view id) const;
  const CatalogueEntry* FindRevokedId(std::string_view id) const;
  // The known / revoked entry holding key material `k`, or null.
  const CatalogueEntry* FindKnownKey(const PublicKey& k) const;
  const CatalogueEntry* FindRevokedKey(const PublicKey& k) const;
  bool IsRevoked(const PublicKey& k) const { return FindRevokedKey(k); }

  // The catalogue as TOML that Parse() reads back to an equal catalogue.
  std::string ToToml() const;

 private:
  Status Check(const std::string& source) const;
  std::vector<CatalogueEntry> known_, revoked_;
};

}  // namespace porthole::keys

#endif  // PORTHOLE_CORE_KEYS_CATALOGUE_H_
