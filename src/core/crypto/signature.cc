#include "core/crypto/signature.h"

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <cstdlib>
#include <cstring>

#include "core/crypto/digest.h"
#include "core/crypto/openssl_util.h"

namespace porthole::crypto {
namespace {

using ossl::BioPtr;
using ossl::Bytes;
using ossl::kRsaMaxBits;
using ossl::kRsaMinBits;
using ossl::MdCtxPtr;
using ossl::OpenSslError;
using ossl::SpkiOf;

constexpr int kPssSaltLength = 32;
constexpr size_t kEd25519KeyBytes = 32;
constexpr size_t kEd25519SignatureBytes = 64;
// The fixed DER prefix of a P-256 SubjectPublicKeyInfo: SEQUENCE {
// SEQUENCE { id-ecPublicKey, prime256v1 }, BIT STRING (66 bytes) }.
constexpr unsigned char kP256SpkiPrefix[] = {
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48,
    0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48,
    0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00};
constexpr size_t kP256PointBytes = 65;

std::shared_ptr<EVP_PKEY> Share(EVP_PKEY* key) {
  return std::shared_ptr<EVP_PKEY>(key, EVP_PKEY_free);
}

bool IsP256(EVP_PKEY* key) {
  char group[64] = {};
  size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group,
                                     sizeof group, &len) != 1) {
    ERR_clear_error();
    return false;
  }
  return std::string_view(group, len) == "prime256v1";
}

// The PSS parameters of 6.10 on a context set up for RSA.
bool SetPss(EVP_PKEY_CTX* pctx) {
  return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0 &&
         EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, kPssSaltLength) > 0 &&
         EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) > 0;
}

const EVP_MD* DigestFor(SignatureScheme scheme) {
  return scheme == SignatureScheme::kEd25519 ? nullptr : EVP_sha256();
}

}  // namespace

std::string_view SignatureSchemeName(SignatureScheme scheme) {
  switch (scheme) {
    case SignatureScheme::kEd25519:
      return "ed25519";
    case SignatureScheme::kRsaPssSha256:
      return "rsassa-pss-sha256";
    case SignatureScheme::kEcdsaP256Sha256:
      return "ecdsa-sha2-nistp256";
  }
  return "unknown";
}

// --- VerifyingKey ---------------------------------------------------------

Result<VerifyingKey> VerifyingKey::FromEd25519(std::string_view raw) {
  if (raw.size() != kEd25519KeyBytes) {
    return Status::InvalidArgument("ed25519 public key must be 32 bytes, not " +
                                   std::to_string(raw.size()));
  }
  EVP_PKEY* key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr,
                                              Bytes(raw), raw.size());
  if (key == nullptr) return OpenSslError("bad ed25519 public key");
  return VerifyingKey(Share(key), SignatureScheme::kEd25519);
}

Result<VerifyingKey> VerifyingKey::FromRsaSpki(std::string_view der) {
  const unsigned char* p = Bytes(der);
  EVP_PKEY* raw = d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size()));
  if (raw == nullptr) return OpenSslError("bad RSA SubjectPublicKeyInfo");
  std::shared_ptr<EVP_PKEY> key = Share(raw);
  if (p != Bytes(der) + der.size()) {
    return Status::InvalidArgument("bytes after RSA SubjectPublicKeyInfo");
  }
  // EVP_PKEY_RSA only: an RSASSA-PSS-restricted key (EVP_PKEY_RSA_PSS) is
  // a different algorithm identifier that Torizon never writes.
  if (EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_RSA) {
    return Status::InvalidArgument("not an rsaEncryption public key");
  }
  if (SpkiOf(key.get()) != der) {
    return Status::InvalidArgument("RSA SubjectPublicKeyInfo is not DER");
  }
  int bits = EVP_PKEY_get_bits(key.get());
  if (bits < kRsaMinBits || bits > kRsaMaxBits) {
    return Status::InvalidArgument("RSA modulus of " + std::to_string(bits) +
                                   " bits (must be 2048..8192)");
  }
  return VerifyingKey(std::move(key), SignatureScheme::kRsaPssSha256);
}

Result<VerifyingKey> VerifyingKey::FromEcdsaP256Point(std::string_view point) {
  if (point.size() != kP256PointBytes || !IsValidEcPoint("nistp256", point)) {
    return Status::InvalidArgument("not an uncompressed P-256 point");
  }
  std::string spki(reinterpret_cast<const char*>(kP256SpkiPrefix),
                   sizeof kP256SpkiPrefix);
  spki.append(point);
  const unsigned char* p = Bytes(spki);
  EVP_PKEY* raw = d2i_PUBKEY(nullptr, &p, static_cast<long>(spki.size()));
  if (raw == nullptr) return OpenSslError("bad P-256 public key");
  return VerifyingKey(Share(raw), SignatureScheme::kEcdsaP256Sha256);
}

bool VerifyingKey::Verify(std::string_view message,
                          std::string_view signature) const {
  if (scheme_ == SignatureScheme::kEd25519 &&
      signature.size() != kEd25519SignatureBytes) {
    return false;
  }
  MdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), &pctx, DigestFor(scheme_),
                                   nullptr, key_.get()) != 1) {
    ERR_clear_error();
    return false;
  }
  if (scheme_ == SignatureScheme::kRsaPssSha256 && !SetPss(pctx)) {
    ERR_clear_error();
    return false;
  }
  bool ok = EVP_DigestVerify(ctx.get(), Bytes(signature), signature.size(),
                             Bytes(message), message.size()) == 1;
  ERR_clear_error();
  return ok;
}

std::string VerifyingKey::SpkiDer() const { return SpkiOf(key_.get()); }

// --- SigningKey -----------------------------------------------------------

SigningKey SigningKey::GenerateEd25519() {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  if (key == nullptr) std::abort();  // only on allocation failure
  return SigningKey(Share(key), SignatureScheme::kEd25519);
}

SigningKey SigningKey::GenerateEcdsaP256() {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  if (key == nullptr) std::abort();
  return SigningKey(Share(key), SignatureScheme::kEcdsaP256Sha256);
}

Result<SigningKey> SigningKey::GenerateRsa(int bits) {
  if (bits < 1024 || bits > 16384) {
    return Status::InvalidArgument("RSA key size out of range");
  }
  EVP_PKEY* key =
      EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(bits));
  if (key == nullptr) return OpenSslError("RSA key generation failed");
  return SigningKey(Share(key), SignatureScheme::kRsaPssSha256);
}

Result<SigningKey> SigningKey::FromEd25519Seed(std::string_view seed) {
  if (seed.size() != kEd25519KeyBytes) {
    return Status::InvalidArgument("ed25519 seed must be 32 bytes");
  }
  EVP_PKEY* key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr,
                                               Bytes(seed), seed.size());
  if (key == nullptr) return OpenSslError("bad ed25519 seed");
  return SigningKey(Share(key), SignatureScheme::kEd25519);
}

Result<SigningKey> SigningKey::FromPkey(std::shared_ptr<EVP_PKEY> key) {
  switch (EVP_PKEY_get_base_id(key.get())) {
    case EVP_PKEY_ED25519:
      return SigningKey(std::move(key), SignatureScheme::kEd25519);
    case EVP_PKEY_RSA:
      return SigningKey(std::move(key), SignatureScheme::kRsaPssSha256);
    case EVP_PKEY_EC:
      if (!IsP256(key.get())) {
        return Status::InvalidArgument("EC private key is not on P-256");
      }
      return SigningKey(std::move(key), SignatureScheme::kEcdsaP256Sha256);
    default:
      return Status::InvalidArgument("unsupported private key type");
  }
}

Result<SigningKey> SigningKey::FromPem(std::string_view pem) {
  std::string_view label;
  for (std::string_view l :
       {"RSA PRIVATE KEY", "EC PRIVATE KEY", "PRIVATE KEY"}) {
    if (PemDecode(pem, l).ok()) label = l;
  }
  if (label.empty()) {
    return Status::InvalidArgument(
        "not an unencrypted PEM private key (RSA, EC or PKCS#8)");
  }
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) std::abort();
  // A callback that supplies no passphrase: never prompt on a terminal.
  auto no_password = [](char*, int, int, void*) -> int { return 0; };
  EVP_PKEY* raw =
      PEM_read_bio_PrivateKey(bio.get(), nullptr, no_password, nullptr);
  if (raw == nullptr) return OpenSslError("bad PEM private key");
  return FromPkey(Share(raw));
}

std::string SigningKey::PublicSpkiDer() const { return SpkiOf(key_.get()); }

std::string SigningKey::PublicBytes() const {
  switch (scheme_) {
    case SignatureScheme::kEd25519: {
      std::string raw(kEd25519KeyBytes, '\0');
      size_t len = raw.size();
      if (EVP_PKEY_get_raw_public_key(
              key_.get(), reinterpret_cast<unsigned char*>(raw.data()), &len) !=
              1 ||
          len != kEd25519KeyBytes) {
        std::abort();
      }
      return raw;
    }
    case SignatureScheme::kEcdsaP256Sha256: {
      std::string spki = SpkiOf(key_.get());
      if (spki.size() != sizeof kP256SpkiPrefix + kP256PointBytes ||
          std::memcmp(spki.data(), kP256SpkiPrefix, sizeof kP256SpkiPrefix) !=
              0) {
        std::abort();  // a P-256 key always encodes like this
      }
      return spki.substr(sizeof kP256SpkiPrefix);
    }
    case SignatureScheme::kRsaPssSha256:
      return SpkiOf(key_.get());
  }
  std::abort();
}

Result<VerifyingKey> SigningKey::Public() const {
  switch (scheme_) {
    case SignatureScheme::kEd25519:
      return VerifyingKey::FromEd25519(PublicBytes());
    case SignatureScheme::kEcdsaP256Sha256:
      return VerifyingKey::FromEcdsaP256Point(PublicBytes());
    case SignatureScheme::kRsaPssSha256:
      return VerifyingKey::FromRsaSpki(PublicBytes());
  }
  std::abort();
}

Result<std::string> SigningKey::Sign(std::string_view message) const {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
  if (!ctx || EVP_DigestSignInit(ctx.get(), &pctx, DigestFor(scheme_), nullptr,
                                 key_.get()) != 1) {
    return OpenSslError("cannot start signing");
  }
  if (scheme_ == SignatureScheme::kRsaPssSha256 && !SetPss(pctx)) {
    return OpenSslError("cannot set RSA-PSS parameters");
  }
  size_t len = 0;
  if (EVP_DigestSign(ctx.get(), nullptr, &len, Bytes(message),
                     message.size()) != 1) {
    return OpenSslError("signing failed");
  }
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()),
                     &len, Bytes(message), message.size()) != 1) {
    return OpenSslError("signing failed");
  }
  sig.resize(len);  // DER ECDSA signatures vary in length
  return sig;
}

Result<std::string> SigningKey::ToPkcs8Pem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio) std::abort();
  if (PEM_write_bio_PKCS8PrivateKey(bio.get(), key_.get(), nullptr, nullptr, 0,
                                    nullptr, nullptr) != 1) {
    return OpenSslError("cannot encode private key");
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

// --- PEM ------------------------------------------------------------------

Result<std::string> PemDecode(std::string_view text, std::string_view label) {
  const std::string begin = "-----BEGIN " + std::string(label) + "-----";
  const std::string end = "-----END " + std::string(label) + "-----";
  auto is_space = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
  };
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  if (text.substr(0, begin.size()) != begin) {
    return Status::InvalidArgument("expected '" + begin + "'");
  }
  if (text.size() < begin.size() + end.size() ||
      text.substr(text.size() - end.size()) != end) {
    return Status::InvalidArgument("expected '" + end + "' at the end");
  }
  std::string_view body =
      text.substr(begin.size(), text.size() - begin.size() - end.size());
  // Lines of base64: drop the line breaks only. Anything else (a header
  // with ':', spaces, a second block) then fails the strict decode.
  std::string b64;
  b64.reserve(body.size());
  for (size_t i = 0; i < body.size(); ++i) {
    char c = body[i];
    if (c == '\n') continue;
    if (c == '\r' && i + 1 < body.size() && body[i + 1] == '\n') continue;
    b64.push_back(c);
  }
  Result<std::string> der = Base64Decode(b64);
  if (!der.ok()) {
    return Status::InvalidArgument("bad PEM body: " + der.status().message());
  }
  if (der->empty()) return Status::InvalidArgument("empty PEM body");
  return der;
}

std::string PemEncode(std::string_view der, std::string_view label) {
  std::string b64 = Base64Encode(der);
  std::string out = "-----BEGIN " + std::string(label) + "-----\n";
  for (size_t i = 0; i < b64.size(); i += 64) {
    out.append(b64, i, 64);
    out.push_back('\n');
  }
  out += "-----END " + std::string(label) + "-----\n";
  return out;
}

}  // namespace porthole::crypto
