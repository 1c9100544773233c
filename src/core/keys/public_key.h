// OpenSSH public keys: the wire blob (RFC 4253 6.6, PROTOCOL.certkeys,
// PROTOCOL.u2f) decoded and checked, and SHA256 fingerprints identical to
// `ssh-keygen -l -E sha256`.
//
// A key's identity is its blob: two keys are the same key iff their blobs are
// byte-equal. Comments never take part.
#ifndef PORTHOLE_CORE_KEYS_PUBLIC_KEY_H_
#define PORTHOLE_CORE_KEYS_PUBLIC_KEY_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "core/base/status.h"

namespace porthole::keys {

enum class KeyType {
  kEd25519,      // ssh-ed25519
  kSkEd25519,    // sk-ssh-ed25519@openssh.com
  kEcdsaP256,    // ecdsa-sha2-nistp256
  kEcdsaP384,    // ecdsa-sha2-nistp384
  kEcdsaP521,    // ecdsa-sha2-nistp521
  kSkEcdsaP256,  // sk-ecdsa-sha2-nistp256@openssh.com
  kRsa,          // ssh-rsa
  kDsa,          // ssh-dss
};

struct PublicKey {
  KeyType type = KeyType::kEd25519;
  bool certificate = false;  // a *-cert-v01@openssh.com key
  std::string blob;          // the whole decoded blob: the key's identity
  std::string plain_blob;    // the underlying plain key's blob (== blob
                             // unless certificate); fingerprints use this
  int bits = 0;              // 256 for ed25519, modulus bits for RSA, ...
  std::string application;   // sk- keys only, e.g. "ssh:"

  // "ssh-ed25519", "ssh-rsa-cert-v01@openssh.com", ...
  std::string TypeName() const;
  // "SHA256:" + unpadded base64 of SHA-256(plain_blob).
  std::string Fingerprint() const;
  // The hex SHA-256 of `blob` (the id TUF remote-sessions metadata uses).
  std::string BlobSha256Hex() const;
  // "ED25519", "ECDSA-SK", "RSA-CERT", ... as ssh-keygen -l prints in parens.
  std::string ShortTypeName() const;

  bool operator==(const PublicKey& o) const { return blob == o.blob; }
};

// Every type name accepted, plain and certificate forms.
bool IsKnownKeyTypeName(std::string_view name);

// True for every name sshd accepts as the first field of a key line: the
// IsKnownKeyTypeName() names plus the signature-algorithm names
// "rsa-sha2-256", "rsa-sha2-512" (an ssh-rsa key), their
// -cert-v01@openssh.com forms (an RSA certificate) and
// "webauthn-sk-ecdsa-sha2-nistp256@openssh.com" (an sk-ecdsa key). sshd
// authenticates such lines, so we read them; the key's TypeName() stays the
// canonical name, which is what a rewritten line then carries.
bool IsKeyLineTypeName(std::string_view name);

// Decodes and validates a blob: known type name, every field present and well
// formed (lengths, mpint encoding, curve name matching the type, EC point on
// the curve, RSA modulus 1024..16384 bits), certificates fully parsed
// including the signature key, and no bytes left over. Errors are
// kInvalidArgument with a short reason ("truncated key blob", ...).
// Stricter than sshd in two ways that keep one blob per key: mpints must be
// canonically encoded and the type name must be the canonical one (sshd
// also takes "rsa-sha2-256", "RSA", ... inside a blob). A certificate's CA
// signature is parsed but not verified (sshd verifies it when it reads the
// key).
Result<PublicKey> ParsePublicKeyBlob(std::string_view blob);

// Parses "TYPE BASE64 [comment]" (no options) and checks that the declared
// TYPE (any IsKeyLineTypeName()) names the blob's own key type. Fields are
// separated by spaces or tabs; leading spaces/tabs and trailing whitespace
// (incl. CR, LF) are ignored. `comment` receives the rest of the line after the
// base64 field, trimmed ("" if none). Errors: "unknown key type 'X'", "missing
// key data after type", "bad base64 in key: REASON", "key type mismatch: line
// says X, key is Y", or a ParsePublicKeyBlob() reason.
Result<PublicKey> ParsePublicKeyLine(std::string_view line,
                                     std::string* comment = nullptr);

}  // namespace porthole::keys

#endif  // PORTHOLE_CORE_KEYS_PUBLIC_KEY_H_
