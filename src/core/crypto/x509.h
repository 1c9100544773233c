// X.509 for porthole-server's two private CAs: the server CA (signs the
// HTTPS listeners' certificate; devices and operators trust it) and the
// device CA (signs one client certificate per device, identity = UUID).
//
// What is issued (RFC 5280 profile, v3, SHA-256 signatures by the CA key):
//   CA          subject CN=<name>; basicConstraints critical CA:TRUE,
//               pathlen:0; keyUsage critical keyCertSign, cRLSign;
//               subjectKeyIdentifier
//   server      subject CN=<host>; SAN DNS:<host> or IP:<host> (an IP
//               literal); EKU serverAuth; keyUsage critical
//               digitalSignature (+ keyEncipherment for RSA keys);
//               basicConstraints critical CA:FALSE; SKI, AKI
//   device      subject CN=<uuid>; SAN URI:urn:uuid:<uuid>; EKU clientAuth;
//               keyUsage, basicConstraints, SKI, AKI as for the server
// Every serial is 128 random bits (positive, never zero). Issuer = the CA's
// subject.
//
// Keys: certificates are issued for a SubjectPublicKeyInfo that passes
// CheckCertificateKey(): EC P-256, Ed25519, or RSA of 2048..8192 bits.
// Keys porthole generates itself are EC P-256 (SigningKey).
//
// Untrusted input: a PKCS#10 CSR from a device (ParseCertificateRequest) is
// parsed strictly (one PEM block, DER with nothing after it, version 1, the
// key policy above, a valid self-signature); only its public key is used,
// never its subject or extensions. Certificates read from PEM are our own
// files but are parsed with the same care.
//
// Objects are immutable and cheap to copy (they share a reference-counted
// OpenSSL object); every function may be called from any thread. Nothing
// throws; errors are Status values (kInvalidArgument for malformed input)
// and the OpenSSL error queue is left empty.
#ifndef PORTHOLE_CORE_CRYPTO_X509_H_
#define PORTHOLE_CORE_CRYPTO_X509_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/clock.h"
#include "core/base/status.h"
#include "core/crypto/signature.h"

typedef struct x509_st X509;  // NOLINT: OpenSSL's own forward name

namespace porthole::crypto {

// Largest PEM text accepted for a certificate, a chain or a CSR.
inline constexpr size_t kMaxPemBytes = 64 * 1024;

struct CertificateInfo {
  std::string sha256_hex;  // lower-case hex SHA-256 of the DER encoding
  std::string serial_hex;  // lower-case hex, no leading zeros ("0" for 0)
  std::string subject_cn;  // "" when the subject has no CN
  std::string issuer_cn;
  SystemTime not_before;
  SystemTime not_after;
};

class Certificate {
 public:
  // Exactly one "CERTIFICATE" PEM block (whitespace around it allowed).
  static Result<Certificate> FromPem(std::string_view pem);
  // One DER certificate with nothing after it.
  static Result<Certificate> FromDer(std::string_view der);
  // One or more "CERTIFICATE" blocks, separated by whitespace only (a chain
  // file: leaf first). Anything else between or around them is an error.
  static Result<std::vector<Certificate>> ChainFromPem(std::string_view pem);

  std::string Der() const;
  std::string ToPem() const;  // one block, final newline
  CertificateInfo Info() const;
  // The DER SubjectPublicKeyInfo of the certified key.
  std::string PublicKeySpki() const;
  // basicConstraints says CA:TRUE.
  bool IsCa() const;

  // The OpenSSL object, owned by this one; for src/core/crypto only.
  X509* x509() const { return cert_.get(); }

 private:
  explicit Certificate(std::shared_ptr<X509> cert) : cert_(std::move(cert)) {}
  std::shared_ptr<X509> cert_;
};

// A CA: its certificate and its private key, known to belong together.
struct CertificateAuthority {
  Certificate cert;
  SigningKey key;

  // From the CA's certificate PEM and its unencrypted private key PEM.
  // Errors: either does not parse, the certificate is not a CA, or the key
  // is not the certificate's ("key does not match the certificate").
  static Result<CertificateAuthority> FromPem(std::string_view cert_pem,
                                              std::string_view key_pem);
};

struct Validity {
  SystemTime not_before;
  SystemTime not_after;  // after not_before
};

// A new self-signed CA certificate for `key` (EC P-256, Ed25519 or RSA).
// `common_name` 1..64 bytes of printable ASCII.
Result<Certificate> MakeSelfSignedCa(const SigningKey& key,
                                     std::string_view common_name,
                                     const Validity& validity);

// OK when `spki_der` is a DER SubjectPublicKeyInfo (nothing after it) of
// an EC P-256, Ed25519 or RSA 2048..8192-bit key; otherwise why not
// ("RSA key of 1024 bits (at least 2048)", "EC key on secp384r1 (only
// P-256)", "DSA keys are not accepted", ...).
Status CheckCertificateKey(std::string_view spki_der);

// True if `host` is a valid IPv4 or IPv6 address literal (no brackets).
bool IsIpLiteral(std::string_view host);
// True if `host` is an IP literal or a DNS name: dot-separated labels of
// letters, digits and '-' (not first or last in a label), each 1..63
// bytes, 253 bytes in all, no trailing dot.
bool IsValidHostName(std::string_view host);

// A server certificate for `host` (IsValidHostName) and the key
// `subject_spki` (CheckCertificateKey).
Result<Certificate> IssueServerCertificate(const CertificateAuthority& ca,
                                           std::string_view subject_spki,
                                           std::string_view host,
                                           const Validity& validity);

// A device client certificate for the device `uuid` (lower-case hyphenated
// UUID, else kInvalidArgument) and the key `subject_spki`.
Result<Certificate> IssueDeviceCertificate(const CertificateAuthority& ca,
                                           std::string_view subject_spki,
                                           std::string_view uuid,
                                           const Validity& validity);

// A verified PKCS#10 certificate request: what porthole takes from it.
struct CertificateRequest {
  std::string public_key_spki;  // DER; passed CheckCertificateKey
  std::string key_description;  // "EC P-256", "Ed25519", "RSA 3072"
};

// Parses untrusted PEM ("CERTIFICATE REQUEST", at most kMaxPemBytes) and
// verifies it as described at the top. Errors are kInvalidArgument, one
// line, starting "not a certificate request: ..." or naming the check that
// failed ("certificate request signature does not verify", ...).
Result<CertificateRequest> ParseCertificateRequest(std::string_view pem);

// The same for a DER-encoded request.
Result<CertificateRequest> ParseCertificateRequestDer(std::string_view der);

}  // namespace porthole::crypto

#endif  // PORTHOLE_CORE_CRYPTO_X509_H_
