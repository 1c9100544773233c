// Keys listed in root metadata and their key ids (PROTOCOL.md 6.4, 6.9).
//
//   {"keytype": "ED25519", "keyval": {"public": "<64 hex>"}}
//   {"keytype": "RSA", "keyval": {"public": "-----BEGIN PUBLIC KEY-----..."}}
//   {"keytype": "ecdsa-sha2-nistp256", "scheme": "ecdsa-sha2-nistp256",
//    "keyval": {"public": "<hex of the 65-byte uncompressed point>"}}
//
// Key ids are Toradex's, not TUF's hash of the canonical key JSON:
//   ED25519  SHA-256 of the 44-byte DER SubjectPublicKeyInfo
//   RSA      SHA-256 of the DER SubjectPublicKeyInfo inside the PEM
//   ECDSA    SHA-256 of the decoded `public` bytes
// Key ids are handled as lower-case hex; input hex may be either case.
#ifndef PORTHOLE_CORE_TUF_KEY_H_
#define PORTHOLE_CORE_TUF_KEY_H_

#include <optional>
#include <string>
#include <string_view>

#include "core/crypto/signature.h"
#include "core/tuf/error.h"
#include "core/tuf/json.h"

namespace porthole::tuf {

enum class KeyType {
  kEd25519,    // "ED25519"
  kRsa,        // "RSA"
  kEcdsaP256,  // "ecdsa-sha2-nistp256"
};

// "ED25519", "RSA", "ecdsa-sha2-nistp256".
std::string_view KeyTypeName(KeyType type);

struct Key {
  KeyType type;
  std::string keyid;  // lower-case hex, computed from the key
  crypto::VerifyingKey verifier;
};

// Parses one `keys` entry of a root. An unknown keytype, or a public key that
// cannot be used (wrong length, RSA below 2048 bits, a point off the curve,
// an ECDSA PEM), is kUnsupportedKey; a wrong structure is kMalformed.
// `where` prefixes messages ("root.json: key 858206d2...").
ErrorOr<Key> ParseKey(const Json& key, std::string_view where);

// The key id of `public_bytes` (as crypto::SigningKey::PublicBytes() gives
// them: raw Ed25519 key, DER SPKI for RSA, SEC1 point for ECDSA).
std::string KeyIdOf(KeyType type, std::string_view public_bytes);

// The root `keys` entry for a key, as Torizon writes it (RSA as PEM with
// 64-character lines and a final newline; ECDSA with "scheme").
Json KeyToJson(KeyType type, std::string_view public_bytes);

// The KeyType that signs with `scheme`.
KeyType KeyTypeFor(crypto::SignatureScheme scheme);

// Decodes hex of either case; nullopt on an odd length or a non-hex digit.
std::optional<std::string> HexDecode(std::string_view hex);

// `text` as a lower-case key id, or nullopt if it is not hex.
std::optional<std::string> NormalizeKeyId(std::string_view text);

}  // namespace porthole::tuf

#endif  // PORTHOLE_CORE_TUF_KEY_H_
