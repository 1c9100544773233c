#include "core/tuf/key.h"

#include "core/crypto/digest.h"

namespace porthole::tuf {
namespace {

// SEQUENCE { SEQUENCE { OID 1.3.101.112 }, BIT STRING (33 bytes) }, the
// prefix of every Ed25519 SubjectPublicKeyInfo.
constexpr char kEd25519SpkiPrefix[] =
    "\x30\x2a\x30\x05\x06\x03\x2b\x65\x70\x03\x21\x00";
constexpr size_t kEd25519SpkiPrefixLen = sizeof kEd25519SpkiPrefix - 1;

constexpr std::string_view kEcdsaScheme = "ecdsa-sha2-nistp256";

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Error Unsupported(std::string_view where, const std::string& reason) {
  return Error(ErrorCode::kUnsupportedKey, std::string(where) + ": " + reason);
}

}  // namespace

std::string_view KeyTypeName(KeyType type) {
  switch (type) {
    case KeyType::kEd25519:
      return "ED25519";
    case KeyType::kRsa:
      return "RSA";
    case KeyType::kEcdsaP256:
      return kEcdsaScheme;
  }
  return "unknown";
}

KeyType KeyTypeFor(crypto::SignatureScheme scheme) {
  switch (scheme) {
    case crypto::SignatureScheme::kEd25519:
      return KeyType::kEd25519;
    case crypto::SignatureScheme::kRsaPssSha256:
      return KeyType::kRsa;
    case crypto::SignatureScheme::kEcdsaP256Sha256:
      return KeyType::kEcdsaP256;
  }
  return KeyType::kEd25519;
}

std::optional<std::string> HexDecode(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  std::string out;
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = HexValue(hex[i]);
    int lo = HexValue(hex[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi << 4 | lo));
  }
  return out;
}

std::optional<std::string> NormalizeKeyId(std::string_view text) {
  std::optional<std::string> bytes = HexDecode(text);
  if (!bytes) return std::nullopt;
  return crypto::HexEncode(*bytes);
}

std::string KeyIdOf(KeyType type, std::string_view public_bytes) {
  if (type == KeyType::kEd25519) {
    std::string spki(kEd25519SpkiPrefix, kEd25519SpkiPrefixLen);
    spki.append(public_bytes);
    return crypto::HexEncode(crypto::Sha256(spki));
  }
  return crypto::HexEncode(crypto::Sha256(public_bytes));
}

Json KeyToJson(KeyType type, std::string_view public_bytes) {
  Json key = Json::object();
  key["keytype"] = std::string(KeyTypeName(type));
  switch (type) {
    case KeyType::kEd25519:
      key["keyval"] = {{"public", crypto::HexEncode(public_bytes)}};
      break;
    case KeyType::kRsa:
      key["keyval"] = {
          {"public", crypto::PemEncode(public_bytes, "PUBLIC KEY")}};
      break;
    case KeyType::kEcdsaP256:
      key["scheme"] = std::string(kEcdsaScheme);
      key["keyval"] = {{"public", crypto::HexEncode(public_bytes)}};
      break;
  }
  return key;
}

ErrorOr<Key> ParseKey(const Json& json, std::string_view where) {
  if (!json.is_object()) {
    return Error(ErrorCode::kMalformed,
                 std::string(where) + ": must be an object");
  }
  TUF_ASSIGN_OR_RETURN(std::string keytype,
                       RequireString(json, "keytype", where));
  TUF_ASSIGN_OR_RETURN(const Json* keyval,
                       RequireObject(json, "keyval", where));
  std::string keyval_where = std::string(where) + " keyval";
  TUF_ASSIGN_OR_RETURN(std::string text,
                       RequireString(*keyval, "public", keyval_where));

  KeyType type;
  std::string public_bytes;
  Result<crypto::VerifyingKey> v = Status::Internal("unset");
  if (keytype == "ED25519") {
    type = KeyType::kEd25519;
    std::optional<std::string> raw = HexDecode(text);
    if (!raw) return Unsupported(where, "ED25519 public key is not hex");
    public_bytes = std::move(*raw);
    v = crypto::VerifyingKey::FromEd25519(public_bytes);
  } else if (keytype == "RSA") {
    type = KeyType::kRsa;
    Result<std::string> der = crypto::PemDecode(text, "PUBLIC KEY");
    if (!der.ok()) {
      return Unsupported(where,
                         "RSA public key PEM: " + der.status().message());
    }
    public_bytes = std::move(*der);
    v = crypto::VerifyingKey::FromRsaSpki(public_bytes);
  } else if (keytype == kEcdsaScheme) {
    type = KeyType::kEcdsaP256;
    TUF_ASSIGN_OR_RETURN(std::string scheme,
                         RequireString(json, "scheme", where));
    if (scheme != kEcdsaScheme) {
      return Unsupported(where,
                         "unknown ECDSA scheme '" + Excerpt(scheme) + "'");
    }
    // tough's PEM form never worked (an OID bug upstream), so only hex.
    std::optional<std::string> raw = HexDecode(text);
    if (!raw) return Unsupported(where, "ECDSA public key is not hex");
    public_bytes = std::move(*raw);
    v = crypto::VerifyingKey::FromEcdsaP256Point(public_bytes);
  } else {
    return Unsupported(where, "unknown keytype '" + Excerpt(keytype) + "'");
  }
  if (!v.ok()) return Unsupported(where, v.status().message());
  return Key{type, KeyIdOf(type, public_bytes), std::move(*v)};
}

}  // namespace porthole::tuf
