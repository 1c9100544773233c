// Producing signed metadata: what porthole-server serves and what tests
// forge. The output verifies with verifier.h and with RAC's tough fork.
//
// Thread safety: a Signer is immutable; SignMetadata() may run concurrently.
#ifndef PORTHOLE_CORE_TUF_SIGNER_H_
#define PORTHOLE_CORE_TUF_SIGNER_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/clock.h"
#include "core/crypto/signature.h"
#include "core/tuf/error.h"
#include "core/tuf/json.h"
#include "core/tuf/key.h"

namespace porthole::tuf {

// A role key that signs.
class Signer {
 public:
  explicit Signer(crypto::SigningKey key);

  // Reads a key file in RAC's test format:
  //   {"keytype": "ED25519", "keyval": {"public": "<hex>",
  //                                     "private": "<hex seed || public>"}}
  //   {"keytype": "RSA", "keyval": {"private": "-----BEGIN RSA PRIVATE..."}}
  // `private` may also be any PEM that crypto::SigningKey::FromPem() reads
  // (so ToKeyFile() output reads back). A `public` member, when present,
  // must match the private key. Errors are kMalformed / kUnsupportedKey.
  static ErrorOr<Signer> FromKeyFile(std::string_view json_text);

  // The key file for this key (private as PKCS#8 PEM, public as in root).
  ErrorOr<std::string> ToKeyFile() const;

  KeyType type() const { return type_; }
  const std::string& keyid() const { return keyid_; }
  const crypto::SigningKey& key() const { return key_; }

  // This key's entry for a root's `keys` map.
  Json PublicJson() const;

  // {"keyid": ..., "method": "ed25519"|"rsassa-pss-sha256"|...,
  //  "sig": "<base64>"} over CanonicalJson(signed_value).
  ErrorOr<Json> Sign(const Json& signed_value) const;

 private:
  crypto::SigningKey key_;
  KeyType type_;
  std::string keyid_;
};

// {"signatures": [one per signer, in order], "signed": signed_value}.
ErrorOr<Json> SignMetadata(const Json& signed_value,
                           const std::vector<const Signer*>& signers);

// The document as served: indented JSON with a final newline.
ErrorOr<std::string> SignMetadataText(
    const Json& signed_value, const std::vector<const Signer*>& signers);

struct RootSpec {
  struct Role {
    std::vector<std::string> keyids;
    uint64_t threshold = 1;
  };
  uint64_t version = 1;
  SystemTime expires;
  bool consistent_snapshot = false;
  std::map<std::string, Json> keys;  // keyid -> PublicJson()
  std::map<std::string, Role> roles;

  // Lists `signer`'s key (once) and makes it one of `role`'s keys.
  void AddRoleKey(const std::string& role, const Signer& signer);
};

// The `signed` part of a root: _type "Root", spec_version "1.0", ...
Json BuildRoot(const RootSpec& spec);

struct RemoteSessionsSpec {
  uint64_t version = 1;
  SystemTime expires;
  std::vector<std::string> authorized_keys;  // OpenSSH key lines
  // Names for authorized_keys, by index, written as "meta": {"name": ...}
  // (RAC ignores meta); shorter than authorized_keys or "" means none.
  std::vector<std::string> authorized_key_names;
  std::vector<std::string> ra_server_hosts;
  std::vector<std::string> ra_server_ssh_pubkeys;  // OpenSSH key lines
  // Command name -> allowed args; nullopt leaves remote_commands out (not
  // null: PROTOCOL 6.6).
  std::optional<std::map<std::string, std::vector<std::string>>>
      allowed_commands;
};

// The `signed` part of a remote-sessions document, as Torizon writes it:
// authorized_keys keyed by the hex SHA-256 of each key blob, "v1alpha"
// version markers. Fails (kMalformed) if a key line does not parse.
ErrorOr<Json> BuildRemoteSessions(const RemoteSessionsSpec& spec);

}  // namespace porthole::tuf

#endif  // PORTHOLE_CORE_TUF_SIGNER_H_
