// Signature keys for signed metadata: Ed25519, RSASSA-PSS-SHA256 and ECDSA
// P-256 with SHA-256, verify and sign, plus PEM framing.
//
// The schemes are fixed by the key type, never chosen by the data being
// verified (PROTOCOL.md 6.10):
//   kEd25519          RFC 8032 Ed25519, 64-byte signatures
//   kRsaPssSha256     RSASSA-PSS, SHA-256, MGF1-SHA-256, salt length 32;
//                     public modulus 2048..8192 bits
//   kEcdsaP256Sha256  ECDSA over P-256 with SHA-256, ASN.1 DER signatures
//
// Keys are immutable after construction and cheap to copy (they share one
// reference-counted OpenSSL key). Verify() and Sign() may be called from
// several threads at once. Nothing here throws; failures are Status values
// (kInvalidArgument for malformed input) and the OpenSSL error queue is left
// empty.
#ifndef PORTHOLE_CORE_CRYPTO_SIGNATURE_H_
#define PORTHOLE_CORE_CRYPTO_SIGNATURE_H_

#include <memory>
#include <string>
#include <string_view>

#include "core/base/status.h"

typedef struct evp_pkey_st EVP_PKEY;  // NOLINT: OpenSSL's own forward name

namespace porthole::crypto {

enum class SignatureScheme {
  kEd25519,
  kRsaPssSha256,
  kEcdsaP256Sha256,
};

// "ed25519", "rsassa-pss-sha256", "ecdsa-sha2-nistp256": the names Torizon
// writes into a signature's informational `method` member.
std::string_view SignatureSchemeName(SignatureScheme scheme);

class VerifyingKey {
 public:
  // From the 32 raw bytes of an Ed25519 public key.
  static Result<VerifyingKey> FromEd25519(std::string_view raw);
  // From a DER SubjectPublicKeyInfo with the rsaEncryption algorithm. The DER
  // must be canonical (re-encoding gives the same bytes) with nothing after
  // it, and the modulus 2048..8192 bits.
  static Result<VerifyingKey> FromRsaSpki(std::string_view der);
  // From a SEC1 uncompressed P-256 point (0x04 || X || Y, 65 bytes) that lies
  // on the curve.
  static Result<VerifyingKey> FromEcdsaP256Point(std::string_view point);

  SignatureScheme scheme() const { return scheme_; }

  // True only if `signature` is a valid signature of `message` under this key
  // and scheme. Malformed signatures (wrong length, bad DER) are just false.
  bool Verify(std::string_view message, std::string_view signature) const;

  // The DER SubjectPublicKeyInfo of the key.
  std::string SpkiDer() const;

  // Same key material (same SubjectPublicKeyInfo).
  bool operator==(const VerifyingKey& o) const {
    return SpkiDer() == o.SpkiDer();
  }

 private:
  VerifyingKey(std::shared_ptr<EVP_PKEY> key, SignatureScheme scheme)
      : key_(std::move(key)), scheme_(scheme) {}
  friend class SigningKey;

  std::shared_ptr<EVP_PKEY> key_;
  SignatureScheme scheme_;
};

class SigningKey {
 public:
  static SigningKey GenerateEd25519();
  static SigningKey GenerateEcdsaP256();
  // `bits` 1024..16384; keys outside 2048..8192 sign but no VerifyingKey
  // accepts them (useful to test that refusal).
  static Result<SigningKey> GenerateRsa(int bits);

  // From the 32-byte Ed25519 private seed.
  static Result<SigningKey> FromEd25519Seed(std::string_view seed);
  // From an unencrypted PEM private key: "RSA PRIVATE KEY" (PKCS#1),
  // "EC PRIVATE KEY" (P-256 only) or "PRIVATE KEY" (PKCS#8 holding RSA,
  // P-256 or Ed25519). Encrypted keys are refused, never prompted for.
  static Result<SigningKey> FromPem(std::string_view pem);

  SignatureScheme scheme() const { return scheme_; }

  // The public half as the bytes TUF metadata carries (decoded): the 32 raw
  // bytes for Ed25519, the 65-byte uncompressed point for P-256, the DER
  // SubjectPublicKeyInfo for RSA.
  std::string PublicBytes() const;
  // The public half's DER SubjectPublicKeyInfo.
  std::string PublicSpkiDer() const;
  // The public half as a VerifyingKey; fails only for RSA moduli outside
  // 2048..8192 bits.
  Result<VerifyingKey> Public() const;

  // Signs `message` with this key's scheme (RSA: PSS, salt 32).
  Result<std::string> Sign(std::string_view message) const;

  // Unencrypted PKCS#8 PEM ("-----BEGIN PRIVATE KEY-----").
  Result<std::string> ToPkcs8Pem() const;

  // The OpenSSL key, owned by this object; for src/core/crypto only
  // (x509.cc signs certificates with it).
  EVP_PKEY* evp_pkey() const { return key_.get(); }

 private:
  SigningKey(std::shared_ptr<EVP_PKEY> key, SignatureScheme scheme)
      : key_(std::move(key)), scheme_(scheme) {}
  static Result<SigningKey> FromPkey(std::shared_ptr<EVP_PKEY> key);

  std::shared_ptr<EVP_PKEY> key_;
  SignatureScheme scheme_;
};

// Decodes one PEM block "-----BEGIN <label>-----" ... "-----END <label>-----"
// whose label must equal `label`. Leading and trailing whitespace around the
// block is allowed, CR before LF is tolerated, headers ("Proc-Type: ...") and
// anything else are errors. The body must be strict base64 split over lines.
Result<std::string> PemDecode(std::string_view text, std::string_view label);

// The PEM block of `der`: base64 in 64-character lines, a final newline.
std::string PemEncode(std::string_view der, std::string_view label);

}  // namespace porthole::crypto

#endif  // PORTHOLE_CORE_CRYPTO_SIGNATURE_H_
