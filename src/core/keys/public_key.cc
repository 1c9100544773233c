#include "core/keys/public_key.h"

#include <array>
#include <cstdio>

#include "core/crypto/digest.h"
#include "core/keys/text.h"

namespace porthole::keys {
namespace {

using text::IsBlank;
using text::Printable;

struct TypeInfo {
  KeyType type;
  bool certificate;
  std::string_view name;
  std::string_view short_name;
};

// Only the canonical names. sshd also maps signature-algorithm names
// ("rsa-sha2-256") and short names ("RSA") to key types inside a blob; we
// refuse those so that one key has exactly one blob.
constexpr std::array<TypeInfo, 16> kTypes = {{
    {KeyType::kEd25519, false, "ssh-ed25519", "ED25519"},
    {KeyType::kSkEd25519, false, "sk-ssh-ed25519@openssh.com", "ED25519-SK"},
    {KeyType::kEcdsaP256, false, "ecdsa-sha2-nistp256", "ECDSA"},
    {KeyType::kEcdsaP384, false, "ecdsa-sha2-nistp384", "ECDSA"},
    {KeyType::kEcdsaP521, false, "ecdsa-sha2-nistp521", "ECDSA"},
    {KeyType::kSkEcdsaP256, false, "sk-ecdsa-sha2-nistp256@openssh.com",
     "ECDSA-SK"},
    {KeyType::kRsa, false, "ssh-rsa", "RSA"},
    {KeyType::kDsa, false, "ssh-dss", "DSA"},
    {KeyType::kEd25519, true, "ssh-ed25519-cert-v01@openssh.com",
     "ED25519-CERT"},
    {KeyType::kSkEd25519, true, "sk-ssh-ed25519-cert-v01@openssh.com",
     "ED25519-SK-CERT"},
    {KeyType::kEcdsaP256, true, "ecdsa-sha2-nistp256-cert-v01@openssh.com",
     "ECDSA-CERT"},
    {KeyType::kEcdsaP384, true, "ecdsa-sha2-nistp384-cert-v01@openssh.com",
     "ECDSA-CERT"},
    {KeyType::kEcdsaP521, true, "ecdsa-sha2-nistp521-cert-v01@openssh.com",
     "ECDSA-CERT"},
    {KeyType::kSkEcdsaP256, true, "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com",
     "ECDSA-SK-CERT"},
    {KeyType::kRsa, true, "ssh-rsa-cert-v01@openssh.com", "RSA-CERT"},
    {KeyType::kDsa, true, "ssh-dss-cert-v01@openssh.com", "DSA-CERT"},
}};

const TypeInfo* FindType(std::string_view name) {
  for (const TypeInfo& t : kTypes) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

// Names sshd also accepts as the declared type at the start of a line (its
// line reader looks names up among signature algorithms too), mapped to the
// key type they stand for.
struct TypeAlias {
  std::string_view name;
  KeyType type;
  bool certificate;
};
constexpr std::array<TypeAlias, 5> kLineTypeAliases = {{
    {"rsa-sha2-256", KeyType::kRsa, false},
    {"rsa-sha2-512", KeyType::kRsa, false},
    {"rsa-sha2-256-cert-v01@openssh.com", KeyType::kRsa, true},
    {"rsa-sha2-512-cert-v01@openssh.com", KeyType::kRsa, true},
    {"webauthn-sk-ecdsa-sha2-nistp256@openssh.com", KeyType::kSkEcdsaP256,
     false},
}};

const TypeInfo& InfoFor(KeyType type, bool certificate) {
  for (const TypeInfo& t : kTypes) {
    if (t.type == type && t.certificate == certificate) return t;
  }
  return kTypes[0];  // unreachable: every (type, cert) pair is listed
}

// The key type a line's first field declares: canonical names and aliases.
bool DeclaredType(std::string_view name, KeyType* type, bool* certificate) {
  if (const TypeInfo* info = FindType(name)) {
    *type = info->type;
    *certificate = info->certificate;
    return true;
  }
  for (const TypeAlias& a : kLineTypeAliases) {
    if (a.name == name) {
      *type = a.type;
      *certificate = a.certificate;
      return true;
    }
  }
  return false;
}

// Limits as in sshd: mpints up to 16384 bits, 256 certificate principals.
constexpr size_t kMaxMpintBytes = 16384 / 8;
constexpr size_t kMaxCertPrincipals = 256;
constexpr int kMinRsaBits = 1024;
constexpr uint32_t kCertTypeUser = 1;
constexpr uint32_t kCertTypeHost = 2;

Status Truncated() { return Status::InvalidArgument("truncated key blob"); }

// A bounds-checked reader over SSH wire encoding (RFC 4251 section 5). Every
// getter either consumes a whole field or fails without consuming.
class BlobReader {
 public:
  explicit BlobReader(std::string_view data) : data_(data) {}

  bool empty() const { return pos_ == data_.size(); }
  size_t pos() const { return pos_; }
  // The bytes consumed since `start` (a value of pos()).
  std::string_view Since(size_t start) const {
    return data_.substr(start, pos_ - start);
  }

  Status U32(uint32_t* v) {
    if (!Peek(4, v)) return Truncated();
    pos_ += 4;
    return Status::Ok();
  }

  Status U64(uint64_t* v) {
    if (!Peek(8, v)) return Truncated();
    pos_ += 8;
    return Status::Ok();
  }

  Status String(std::string_view* v) {
    uint32_t len = 0;
    if (!Peek(4, &len) || data_.size() - pos_ - 4 < len) return Truncated();
    *v = data_.substr(pos_ + 4, len);
    pos_ += 4 + size_t{len};
    return Status::Ok();
  }

  // A string used as text. NUL bytes are refused; sshd allows one as the
  // last byte and drops it, which would give one name two blobs.
  Status CString(std::string_view* v, std::string_view what) {
    size_t start = pos_;
    PH_RETURN_IF_ERROR(String(v));
    if (v->find('\0') != std::string_view::npos) {
      pos_ = start;
      return Status::InvalidArgument(std::string("NUL byte in ") +
                                     std::string(what));
    }
    return Status::Ok();
  }

  // A non-negative mpint in its one canonical encoding; `magnitude` gets
  // the big-endian value without the sign byte.
  Status Mpint(std::string_view* magnitude) {
    size_t start = pos_;
    std::string_view v;
    PH_RETURN_IF_ERROR(String(&v));
    Status s = CheckMpint(v);
    if (!s.ok()) {
      pos_ = start;
      return s;
    }
    if (!v.empty() && v[0] == '\0') v.remove_prefix(1);
    *magnitude = v;
    return Status::Ok();
  }

 private:
  // Reads an `n`-byte big-endian integer at pos_ without consuming it.
  template <typename T>
  bool Peek(size_t n, T* v) const {
    if (data_.size() - pos_ < n) return false;
    T r = 0;
    for (size_t i = 0; i < n; ++i) {
      r = static_cast<T>((r << 8) |
                         static_cast<unsigned char>(data_[pos_ + i]));
    }
    *v = r;
    return true;
  }

  static Status CheckMpint(std::string_view v) {
    if (v.empty()) return Status::Ok();
    unsigned char first = static_cast<unsigned char>(v[0]);
    if (first & 0x80) return Status::InvalidArgument("negative mpint");
    if (first == 0 &&
        (v.size() < 2 || !(static_cast<unsigned char>(v[1]) & 0x80))) {
      return Status::InvalidArgument("non-canonical mpint");
    }
    size_t magnitude = first == 0 ? v.size() - 1 : v.size();
    if (magnitude > kMaxMpintBytes) {
      return Status::InvalidArgument("mpint too large");
    }
    return Status::Ok();
  }

  std::string_view data_;
  size_t pos_ = 0;
};

int BitLength(std::string_view magnitude) {
  if (magnitude.empty()) return 0;
  int top = 0;
  for (unsigned v = static_cast<unsigned char>(magnitude[0]); v != 0; v >>= 1) {
    ++top;
  }
  return static_cast<int>((magnitude.size() - 1) * 8) + top;
}

std::string_view CurveFor(KeyType type) {
  switch (type) {
    case KeyType::kEcdsaP256:
    case KeyType::kSkEcdsaP256:
      return "nistp256";
    case KeyType::kEcdsaP384:
      return "nistp384";
    case KeyType::kEcdsaP521:
      return "nistp521";
    default:
      return "";
  }
}

void PutString(std::string_view s, std::string* out) {
  uint32_t len = static_cast<uint32_t>(s.size());
  out->push_back(static_cast<char>(len >> 24));
  out->push_back(static_cast<char>(len >> 16));
  out->push_back(static_cast<char>(len >> 8));
  out->push_back(static_cast<char>(len));
  out->append(s);
}

// Reads the type-specific public fields (everything between the type name,
// or a certificate's nonce, and the end or the certificate body).
Status ReadKeyFields(KeyType type, BlobReader* r, PublicKey* key) {
  switch (type) {
    case KeyType::kEd25519:
    case KeyType::kSkEd25519: {
      std::string_view pk;
      PH_RETURN_IF_ERROR(r->String(&pk));
      if (pk.size() != 32) {
        return Status::InvalidArgument("invalid ed25519 key length " +
                                       std::to_string(pk.size()));
      }
      key->bits = 256;
      break;
    }
    case KeyType::kEcdsaP256:
    case KeyType::kEcdsaP384:
    case KeyType::kEcdsaP521:
    case KeyType::kSkEcdsaP256: {
      std::string_view curve;
      std::string_view point;
      PH_RETURN_IF_ERROR(r->CString(&curve, "curve name"));
      std::string_view want = CurveFor(type);
      if (curve != want) {
        return Status::InvalidArgument("curve '" + Printable(curve) +
                                       "' does not match key type (" +
                                       std::string(want) + ")");
      }
      PH_RETURN_IF_ERROR(r->String(&point));
      if (!crypto::IsValidEcPoint(curve, point)) {
        return Status::InvalidArgument("invalid EC point");
      }
      key->bits = type == KeyType::kEcdsaP384   ? 384
                  : type == KeyType::kEcdsaP521 ? 521
                                                : 256;
      break;
    }
    case KeyType::kRsa: {
      std::string_view e;
      std::string_view n;
      PH_RETURN_IF_ERROR(r->Mpint(&e));
      PH_RETURN_IF_ERROR(r->Mpint(&n));
      int bits = BitLength(n);
      if (bits < kMinRsaBits) {
        return Status::InvalidArgument("RSA modulus too small (" +
                                       std::to_string(bits) + " bits)");
      }
      key->bits = bits;
      break;
    }
    case KeyType::kDsa: {
      std::string_view p, q, g, y;
      PH_RETURN_IF_ERROR(r->Mpint(&p));
      PH_RETURN_IF_ERROR(r->Mpint(&q));
      PH_RETURN_IF_ERROR(r->Mpint(&g));
      PH_RETURN_IF_ERROR(r->Mpint(&y));
      key->bits = BitLength(p);
      break;
    }
  }
  if (type == KeyType::kSkEd25519 || type == KeyType::kSkEcdsaP256) {
    std::string_view app;
    PH_RETURN_IF_ERROR(r->CString(&app, "application"));
    key->application = std::string(app);
  }
  return Status::Ok();
}

// A packed list of strings (certificate principals).
Status CheckStringList(std::string_view packed, size_t max,
                       std::string_view what) {
  BlobReader r(packed);
  size_t n = 0;
  while (!r.empty()) {
    std::string_view s;
    if (!r.CString(&s, what).ok()) {
      return Status::InvalidArgument("bad certificate " + std::string(what));
    }
    if (++n > max) {
      return Status::InvalidArgument("too many certificate " +
                                     std::string(what));
    }
  }
  return Status::Ok();
}

// Critical options and extensions: a packed list of (name, data) pairs.
Status CheckOptionList(std::string_view packed, std::string_view what) {
  BlobReader r(packed);
  while (!r.empty()) {
    std::string_view name;
    std::string_view data;
    if (!r.CString(&name, what).ok() || !r.String(&data).ok()) {
      return Status::InvalidArgument("bad certificate " + std::string(what));
    }
  }
  return Status::Ok();
}

Result<PublicKey> ParseBlob(std::string_view blob, bool allow_certificate);

Status ReadCertificateBody(BlobReader* r) {
  uint64_t serial = 0;
  uint32_t cert_type = 0;
  std::string_view key_id, principals, critical, extensions, reserved;
  std::string_view signature_key, signature;
  uint64_t valid_after = 0;
  uint64_t valid_before = 0;
  PH_RETURN_IF_ERROR(r->U64(&serial));
  PH_RETURN_IF_ERROR(r->U32(&cert_type));
  PH_RETURN_IF_ERROR(r->CString(&key_id, "certificate key id"));
  PH_RETURN_IF_ERROR(r->String(&principals));
  PH_RETURN_IF_ERROR(r->U64(&valid_after));
  PH_RETURN_IF_ERROR(r->U64(&valid_before));
  PH_RETURN_IF_ERROR(r->String(&critical));
  PH_RETURN_IF_ERROR(r->String(&extensions));
  PH_RETURN_IF_ERROR(r->String(&reserved));
  PH_RETURN_IF_ERROR(r->String(&signature_key));
  PH_RETURN_IF_ERROR(r->String(&signature));

  if (cert_type != kCertTypeUser && cert_type != kCertTypeHost) {
    return Status::InvalidArgument("unknown certificate type " +
                                   std::to_string(cert_type));
  }
  PH_RETURN_IF_ERROR(
      CheckStringList(principals, kMaxCertPrincipals, "principals"));
  PH_RETURN_IF_ERROR(CheckOptionList(critical, "critical options"));
  PH_RETURN_IF_ERROR(CheckOptionList(extensions, "extensions"));
  Result<PublicKey> ca = ParseBlob(signature_key, /*allow_certificate=*/false);
  if (!ca.ok()) return ca.status().Prefixed("bad certificate signature key");
  // The signature itself is not verified here: that needs the CA's
  // algorithm implementations and sshd verifies it anyway on use.
  return Status::Ok();
}

Result<PublicKey> ParseBlob(std::string_view blob, bool allow_certificate) {
  BlobReader r(blob);
  std::string_view type_name;
  PH_RETURN_IF_ERROR(r.CString(&type_name, "key type"));
  const TypeInfo* info = FindType(type_name);
  if (info == nullptr) {
    return Status::InvalidArgument("unknown key type '" + Printable(type_name) +
                                   "'");
  }
  if (info->certificate && !allow_certificate) {
    return Status::InvalidArgument("nested certificate");
  }
  PublicKey key;
  key.type = info->type;
  key.certificate = info->certificate;
  if (info->certificate) {
    std::string_view nonce;
    PH_RETURN_IF_ERROR(r.String(&nonce));
  }
  size_t fields_start = r.pos();
  PH_RETURN_IF_ERROR(ReadKeyFields(info->type, &r, &key));
  std::string_view fields = r.Since(fields_start);
  if (info->certificate) {
    PH_RETURN_IF_ERROR(ReadCertificateBody(&r));
  }
  if (!r.empty()) {
    return Status::InvalidArgument("trailing bytes after key blob");
  }
  key.blob = std::string(blob);
  if (info->certificate) {
    // The fields of a certificate are encoded exactly as in the plain key
    // (and every mpint is canonical), so the plain blob is the plain type
    // name followed by the same bytes: what ssh-keygen -l hashes.
    PutString(InfoFor(info->type, false).name, &key.plain_blob);
    key.plain_blob.append(fields);
  } else {
    key.plain_blob = key.blob;
  }
  return key;
}

}  // namespace

std::string PublicKey::TypeName() const {
  return std::string(InfoFor(type, certificate).name);
}

std::string PublicKey::Fingerprint() const {
  crypto::Sha256Digest d = crypto::Sha256(plain_blob);
  return "SHA256:" + crypto::Base64Encode(
                         std::string_view(
                             reinterpret_cast<const char*>(d.data()), d.size()),
                         /*pad=*/false);
}

std::string PublicKey::BlobSha256Hex() const {
  return crypto::HexEncode(crypto::Sha256(blob));
}

std::string PublicKey::ShortTypeName() const {
  return std::string(InfoFor(type, certificate).short_name);
}

bool IsKnownKeyTypeName(std::string_view name) {
  return FindType(name) != nullptr;
}

bool IsKeyLineTypeName(std::string_view name) {
  KeyType type;
  bool certificate = false;
  return DeclaredType(name, &type, &certificate);
}

Result<PublicKey> ParsePublicKeyBlob(std::string_view blob) {
  return ParseBlob(blob, /*allow_certificate=*/true);
}

Result<PublicKey> ParsePublicKeyLine(std::string_view line,
                                     std::string* comment) {
  while (!line.empty() && IsBlank(line.front())) line.remove_prefix(1);
  while (!line.empty() &&
         (IsBlank(line.back()) || line.back() == '\r' || line.back() == '\n')) {
    line.remove_suffix(1);
  }
  if (line.empty()) return Status::InvalidArgument("missing key");

  size_t type_end = 0;
  while (type_end < line.size() && !IsBlank(line[type_end])) ++type_end;
  std::string_view declared = line.substr(0, type_end);
  KeyType declared_type = KeyType::kEd25519;
  bool declared_certificate = false;
  if (!DeclaredType(declared, &declared_type, &declared_certificate)) {
    return Status::InvalidArgument("unknown key type '" + Printable(declared) +
                                   "'");
  }
  size_t b64_start = type_end;
  while (b64_start < line.size() && IsBlank(line[b64_start])) ++b64_start;
  if (b64_start == line.size()) {
    return Status::InvalidArgument("missing key data after type");
  }
  size_t b64_end = b64_start;
  while (b64_end < line.size() && !IsBlank(line[b64_end])) ++b64_end;

  Result<std::string> blob =
      crypto::Base64Decode(line.substr(b64_start, b64_end - b64_start));
  if (!blob.ok()) return blob.status().Prefixed("bad base64 in key");
  PH_ASSIGN_OR_RETURN(PublicKey key, ParsePublicKeyBlob(*blob));
  if (key.type != declared_type || key.certificate != declared_certificate) {
    return Status::InvalidArgument("key type mismatch: line says " +
                                   std::string(declared) + ", key is " +
                                   key.TypeName());
  }
  if (comment != nullptr) {
    size_t c = b64_end;
    while (c < line.size() && IsBlank(line[c])) ++c;
    *comment = std::string(line.substr(c));
  }
  return key;
}

}  // namespace porthole::keys
