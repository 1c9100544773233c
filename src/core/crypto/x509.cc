#include "core/crypto/x509.h"

#include <arpa/inet.h>
#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cctype>
#include <cstdlib>
#include <ctime>

#include "core/crypto/digest.h"
#include "core/crypto/openssl_util.h"
#include "core/crypto/random.h"

namespace porthole::crypto {
namespace {

using ossl::BnPtr;
using ossl::Bytes;
using ossl::ExtPtr;
using ossl::kRsaMaxBits;
using ossl::kRsaMinBits;
using ossl::OpenSslError;
using ossl::PkeyPtr;
using ossl::SpkiOf;
using ossl::X509ReqPtr;

constexpr size_t kSerialBytes = 16;
constexpr size_t kMaxCommonName = 64;  // ub-common-name, RFC 5280

// A failure of OpenSSL on data we built ourselves: not the caller's input.
Status InternalError(std::string what) {
  ERR_clear_error();
  return Status::Internal("X.509: " + what + " failed");
}

std::shared_ptr<X509> ShareCert(X509* c) {
  return std::shared_ptr<X509>(c, X509_free);
}

std::string DerOf(const X509* cert) {
  std::string der = ossl::ToDer(cert, i2d_X509);
  if (der.empty()) std::abort();  // only on allocation failure
  return der;
}

Result<PkeyPtr> DecodeSpki(std::string_view der) {
  if (der.empty() || der.size() > kMaxPemBytes) {
    return Status::InvalidArgument("not a SubjectPublicKeyInfo");
  }
  const unsigned char* p = Bytes(der);
  PkeyPtr key(d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size())));
  if (!key) return OpenSslError("not a SubjectPublicKeyInfo");
  if (p != Bytes(der) + der.size()) {
    return Status::InvalidArgument("bytes after the SubjectPublicKeyInfo");
  }
  return key;
}

// The key policy of CheckCertificateKey(); the description on success.
Result<std::string> DescribeAllowedKey(EVP_PKEY* key) {
  switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_ED25519:
      return std::string("Ed25519");
    case EVP_PKEY_RSA: {
      int bits = EVP_PKEY_get_bits(key);
      if (bits < kRsaMinBits || bits > kRsaMaxBits) {
        return Status::InvalidArgument("RSA key of " + std::to_string(bits) +
                                       " bits (must be " +
                                       std::to_string(kRsaMinBits) + ".." +
                                       std::to_string(kRsaMaxBits) + ")");
      }
      return "RSA " + std::to_string(bits);
    }
    case EVP_PKEY_EC: {
      char group[64] = {};
      size_t len = 0;
      if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group,
                                         sizeof group, &len) != 1) {
        return OpenSslError(
            "EC key with explicit curve parameters (only "
            "the named curve P-256)");
      }
      std::string_view name(group, len);
      if (name != "prime256v1") {
        return Status::InvalidArgument("EC key on " + std::string(name) +
                                       " (only P-256)");
      }
      return std::string("EC P-256");
    }
    default: {
      const char* type = EVP_PKEY_get0_type_name(key);
      return Status::InvalidArgument(
          std::string(type != nullptr ? type : "this type of") +
          " keys are not accepted (EC P-256, Ed25519 or RSA >= 2048 bits)");
    }
  }
}

// SHA-256 for EC and RSA; Ed25519 signs the message itself.
const EVP_MD* SigningDigest(EVP_PKEY* key) {
  return EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519 ? nullptr : EVP_sha256();
}

std::time_t ToTimeT(SystemTime t) {
  return std::chrono::system_clock::to_time_t(
      std::chrono::floor<std::chrono::seconds>(t));
}

Result<SystemTime> FromAsn1Time(const ASN1_TIME* t) {
  std::tm tm = {};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) {
    return OpenSslError("bad certificate time");
  }
  std::time_t secs = timegm(&tm);
  return std::chrono::system_clock::from_time_t(secs);
}

bool IsPrintableAscii(std::string_view s) {
  for (char c : s) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

bool IsUuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

// A random positive serial of kSerialBytes bytes, never zero.
bool SetRandomSerial(X509* cert) {
  std::string bytes;
  do {
    bytes = RandomBytes(kSerialBytes);
  } while (bytes.find_first_not_of('\0') == std::string::npos);
  BnPtr bn(BN_bin2bn(Bytes(bytes), static_cast<int>(bytes.size()), nullptr));
  if (!bn) return false;
  ASN1_INTEGER* serial = BN_to_ASN1_INTEGER(bn.get(), nullptr);
  if (serial == nullptr) return false;
  bool ok = X509_set_serialNumber(cert, serial) == 1;
  ASN1_INTEGER_free(serial);
  return ok;
}

bool SetValidity(X509* cert, const Validity& v) {
  ASN1_TIME* nb = ASN1_TIME_set(nullptr, ToTimeT(v.not_before));
  ASN1_TIME* na = ASN1_TIME_set(nullptr, ToTimeT(v.not_after));
  bool ok = nb != nullptr && na != nullptr && X509_set1_notBefore(cert, nb) &&
            X509_set1_notAfter(cert, na);
  ASN1_TIME_free(nb);
  ASN1_TIME_free(na);
  return ok;
}

// A CN longer than ub-common-name is left out (the SAN is what counts).
bool SetSubjectCn(X509* cert, std::string_view cn) {
  if (cn.size() > kMaxCommonName) return true;
  X509_NAME* name = X509_get_subject_name(cert);
  return X509_NAME_add_entry_by_NID(
             name, NID_commonName, MBSTRING_ASC,
             const_cast<unsigned char*>(Bytes(cn)),  // not written
             static_cast<int>(cn.size()), -1, 0) == 1;
}

// Adds one extension in OpenSSL's configuration syntax. Every value passed
// here is built from validated parts (no ',' or ':' from a caller).
bool AddExtension(X509* cert, X509V3_CTX* ctx, int nid,
                  const std::string& value) {
  ExtPtr ext(X509V3_EXT_conf_nid(nullptr, ctx, nid, value.c_str()));
  return ext && X509_add_ext(cert, ext.get(), -1) == 1;
}

Status CheckValidity(const Validity& v) {
  if (v.not_after <= v.not_before) {
    return Status::InvalidArgument(
        "certificate validity ends before it starts");
  }
  return Status::Ok();
}

struct LeafProfile {
  std::string common_name;
  std::string subject_alt_name;  // OpenSSL syntax: "DNS:x", "IP:x", "URI:x"
  std::string extended_key_usage;
};

Result<Certificate> IssueLeaf(const CertificateAuthority& ca,
                              std::string_view subject_spki,
                              const LeafProfile& profile,
                              const Validity& validity) {
  PH_RETURN_IF_ERROR(CheckValidity(validity));
  PH_ASSIGN_OR_RETURN(PkeyPtr subject_key, DecodeSpki(subject_spki));
  auto allowed = DescribeAllowedKey(subject_key.get());
  if (!allowed.ok()) return allowed.status();
  std::shared_ptr<X509> cert = ShareCert(X509_new());
  if (!cert) std::abort();
  X509* c = cert.get();
  if (X509_set_version(c, X509_VERSION_3) != 1 || !SetRandomSerial(c) ||
      X509_set_issuer_name(c, X509_get_subject_name(ca.cert.x509())) != 1 ||
      !SetSubjectCn(c, profile.common_name) || !SetValidity(c, validity) ||
      X509_set_pubkey(c, subject_key.get()) != 1) {
    return InternalError("building the certificate");
  }
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, ca.cert.x509(), c, nullptr, nullptr, 0);
  std::string key_usage = "critical,digitalSignature";
  if (EVP_PKEY_get_base_id(subject_key.get()) == EVP_PKEY_RSA) {
    key_usage += ",keyEncipherment";
  }
  if (!AddExtension(c, &ctx, NID_basic_constraints, "critical,CA:FALSE") ||
      !AddExtension(c, &ctx, NID_key_usage, key_usage) ||
      !AddExtension(c, &ctx, NID_ext_key_usage, profile.extended_key_usage) ||
      !AddExtension(c, &ctx, NID_subject_alt_name, profile.subject_alt_name) ||
      !AddExtension(c, &ctx, NID_subject_key_identifier, "hash") ||
      !AddExtension(c, &ctx, NID_authority_key_identifier, "keyid:always")) {
    return InternalError("adding extensions");
  }
  EVP_PKEY* ca_key = ca.key.evp_pkey();
  if (X509_sign(c, ca_key, SigningDigest(ca_key)) <= 0) {
    return InternalError("signing the certificate");
  }
  return Certificate::FromDer(DerOf(c));
}

}  // namespace

// --- Certificate ----------------------------------------------------------

Result<Certificate> Certificate::FromDer(std::string_view der) {
  if (der.empty() || der.size() > kMaxPemBytes) {
    return Status::InvalidArgument("not a DER certificate");
  }
  const unsigned char* p = Bytes(der);
  X509* raw = d2i_X509(nullptr, &p, static_cast<long>(der.size()));
  if (raw == nullptr) return OpenSslError("not a DER certificate");
  std::shared_ptr<X509> cert = ShareCert(raw);
  if (p != Bytes(der) + der.size()) {
    return Status::InvalidArgument("bytes after the certificate");
  }
  return Certificate(std::move(cert));
}

Result<Certificate> Certificate::FromPem(std::string_view pem) {
  if (pem.size() > kMaxPemBytes) {
    return Status::InvalidArgument("certificate PEM larger than " +
                                   std::to_string(kMaxPemBytes) + " bytes");
  }
  auto der = PemDecode(pem, "CERTIFICATE");
  if (!der.ok()) {
    return Status::InvalidArgument("not a PEM certificate: " +
                                   der.status().message());
  }
  return FromDer(*der);
}

Result<std::vector<Certificate>> Certificate::ChainFromPem(
    std::string_view pem) {
  if (pem.size() > kMaxPemBytes) {
    return Status::InvalidArgument("certificate PEM larger than " +
                                   std::to_string(kMaxPemBytes) + " bytes");
  }
  constexpr std::string_view kEnd = "-----END CERTIFICATE-----";
  std::vector<Certificate> chain;
  size_t pos = 0;
  while (true) {
    size_t start = pem.find_first_not_of(" \t\r\n", pos);
    if (start == std::string_view::npos) break;
    size_t end = pem.find(kEnd, start);
    if (end == std::string_view::npos) {
      // Let FromPem say what is wrong with the rest.
      end = pem.size();
    } else {
      end += kEnd.size();
    }
    PH_ASSIGN_OR_RETURN(Certificate c, FromPem(pem.substr(start, end - start)));
    chain.push_back(std::move(c));
    pos = end;
  }
  if (chain.empty()) {
    return Status::InvalidArgument("no PEM certificate");
  }
  return chain;
}

std::string Certificate::Der() const { return DerOf(cert_.get()); }

std::string Certificate::ToPem() const {
  return PemEncode(Der(), "CERTIFICATE");
}

namespace {

std::string CommonNameOf(const X509_NAME* name) {
  if (name == nullptr) return "";
  int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (i < 0) return "";
  const X509_NAME_ENTRY* e = X509_NAME_get_entry(name, i);
  unsigned char* utf8 = nullptr;
  int len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(e));
  if (len < 0) {
    ERR_clear_error();
    return "";
  }
  std::string out(reinterpret_cast<char*>(utf8), static_cast<size_t>(len));
  OPENSSL_free(utf8);
  return out;
}

}  // namespace

CertificateInfo Certificate::Info() const {
  CertificateInfo info;
  info.sha256_hex = HexEncode(Sha256(Der()));
  auto serial = ossl::SerialHex(cert_.get());
  if (serial.ok()) info.serial_hex = *std::move(serial);
  info.subject_cn = CommonNameOf(X509_get_subject_name(cert_.get()));
  info.issuer_cn = CommonNameOf(X509_get_issuer_name(cert_.get()));
  auto nb = FromAsn1Time(X509_get0_notBefore(cert_.get()));
  auto na = FromAsn1Time(X509_get0_notAfter(cert_.get()));
  if (nb.ok()) info.not_before = *nb;
  if (na.ok()) info.not_after = *na;
  ERR_clear_error();
  return info;
}

std::string Certificate::PublicKeySpki() const {
  EVP_PKEY* key = X509_get0_pubkey(cert_.get());
  if (key == nullptr) {
    ERR_clear_error();
    return "";
  }
  return SpkiOf(key);
}

bool Certificate::IsCa() const {
  bool ca = (X509_get_extension_flags(cert_.get()) & EXFLAG_CA) != 0;
  ERR_clear_error();
  return ca;
}

// --- CA -------------------------------------------------------------------

Result<CertificateAuthority> CertificateAuthority::FromPem(
    std::string_view cert_pem, std::string_view key_pem) {
  PH_ASSIGN_OR_RETURN(Certificate cert, Certificate::FromPem(cert_pem));
  if (!cert.IsCa()) {
    return Status::InvalidArgument("the certificate is not a CA certificate");
  }
  auto key = SigningKey::FromPem(key_pem);
  if (!key.ok()) {
    return Status::InvalidArgument("CA key: " + key.status().message());
  }
  if (X509_check_private_key(cert.x509(), key->evp_pkey()) != 1) {
    return OpenSslError("the CA key does not match the CA certificate");
  }
  return CertificateAuthority{std::move(cert), std::move(key).value()};
}

Result<Certificate> MakeSelfSignedCa(const SigningKey& key,
                                     std::string_view common_name,
                                     const Validity& validity) {
  if (common_name.empty() || common_name.size() > kMaxCommonName ||
      !IsPrintableAscii(common_name)) {
    return Status::InvalidArgument(
        "CA name must be 1..64 printable ASCII characters");
  }
  PH_RETURN_IF_ERROR(CheckValidity(validity));
  std::shared_ptr<X509> cert = ShareCert(X509_new());
  if (!cert) std::abort();
  X509* c = cert.get();
  if (X509_set_version(c, X509_VERSION_3) != 1 || !SetRandomSerial(c) ||
      !SetSubjectCn(c, common_name) ||
      X509_set_issuer_name(c, X509_get_subject_name(c)) != 1 ||
      !SetValidity(c, validity) || X509_set_pubkey(c, key.evp_pkey()) != 1) {
    return InternalError("building the CA certificate");
  }
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, c, c, nullptr, nullptr, 0);
  if (!AddExtension(c, &ctx, NID_basic_constraints,
                    "critical,CA:TRUE,pathlen:0") ||
      !AddExtension(c, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign") ||
      !AddExtension(c, &ctx, NID_subject_key_identifier, "hash")) {
    return InternalError("adding CA extensions");
  }
  if (X509_sign(c, key.evp_pkey(), SigningDigest(key.evp_pkey())) <= 0) {
    return InternalError("signing the CA certificate");
  }
  return Certificate::FromDer(DerOf(c));
}

// --- keys and names ----------------------------------------------------------

Status CheckCertificateKey(std::string_view spki_der) {
  PH_ASSIGN_OR_RETURN(PkeyPtr key, DecodeSpki(spki_der));
  auto kind = DescribeAllowedKey(key.get());
  return kind.ok() ? Status::Ok() : kind.status();
}

bool IsIpLiteral(std::string_view host) {
  if (host.empty() || host.size() >= INET6_ADDRSTRLEN) return false;
  std::string s(host);
  unsigned char buf[sizeof(struct in6_addr)];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 ||
         inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

bool IsValidHostName(std::string_view host) {
  if (IsIpLiteral(host)) return true;
  if (host.empty() || host.size() > 253) return false;
  size_t start = 0;
  while (start <= host.size()) {
    size_t dot = host.find('.', start);
    if (dot == std::string_view::npos) dot = host.size();
    std::string_view label = host.substr(start, dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' ||
        label.back() == '-') {
      return false;
    }
    for (char c : label) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') {
        return false;
      }
    }
    start = dot + 1;
  }
  // All-numeric names ("1.2.3") are neither a DNS name nor an address.
  return host.find_first_not_of("0123456789.") != std::string_view::npos;
}

Result<Certificate> IssueServerCertificate(const CertificateAuthority& ca,
                                           std::string_view subject_spki,
                                           std::string_view host,
                                           const Validity& validity) {
  if (!IsValidHostName(host)) {
    return Status::InvalidArgument("'" + std::string(host) +
                                   "' is not a DNS name or an IP address");
  }
  LeafProfile p;
  p.common_name = std::string(host);
  p.subject_alt_name = (IsIpLiteral(host) ? "IP:" : "DNS:") + std::string(host);
  p.extended_key_usage = "serverAuth";
  return IssueLeaf(ca, subject_spki, p, validity);
}

Result<Certificate> IssueDeviceCertificate(const CertificateAuthority& ca,
                                           std::string_view subject_spki,
                                           std::string_view uuid,
                                           const Validity& validity) {
  if (!IsUuid(uuid)) {
    return Status::InvalidArgument("'" + std::string(uuid) +
                                   "' is not a lower-case hyphenated UUID");
  }
  LeafProfile p;
  p.common_name = std::string(uuid);
  p.subject_alt_name = "URI:urn:uuid:" + std::string(uuid);
  p.extended_key_usage = "clientAuth";
  return IssueLeaf(ca, subject_spki, p, validity);
}

// --- CSR ------------------------------------------------------------------

Result<CertificateRequest> ParseCertificateRequestDer(std::string_view der) {
  if (der.empty() || der.size() > kMaxPemBytes) {
    return Status::InvalidArgument("not a certificate request: bad size");
  }
  const unsigned char* p = Bytes(der);
  X509ReqPtr req(d2i_X509_REQ(nullptr, &p, static_cast<long>(der.size())));
  if (!req) {
    return OpenSslError("not a certificate request: malformed DER");
  }
  if (p != Bytes(der) + der.size()) {
    return Status::InvalidArgument("not a certificate request: bytes after it");
  }
  if (X509_REQ_get_version(req.get()) != X509_REQ_VERSION_1) {
    return Status::InvalidArgument(
        "certificate request has an unknown version");
  }
  switch (X509_REQ_get_signature_nid(req.get())) {
    case NID_sha256WithRSAEncryption:
    case NID_sha384WithRSAEncryption:
    case NID_sha512WithRSAEncryption:
    case NID_rsassaPss:
    case NID_ecdsa_with_SHA256:
    case NID_ecdsa_with_SHA384:
    case NID_ecdsa_with_SHA512:
    case NID_ED25519:
      break;
    default:
      return Status::InvalidArgument(
          "certificate request signed with an unaccepted algorithm (SHA-2 "
          "RSA/ECDSA or Ed25519 only)");
  }
  EVP_PKEY* key = X509_REQ_get0_pubkey(req.get());
  if (key == nullptr) {
    return OpenSslError("certificate request: unsupported or bad public key");
  }
  auto kind = DescribeAllowedKey(key);
  if (!kind.ok()) {
    return Status::InvalidArgument("certificate request: " +
                                   kind.status().message());
  }
  if (X509_REQ_verify(req.get(), key) != 1) {
    return OpenSslError("certificate request signature does not verify");
  }
  ERR_clear_error();
  return CertificateRequest{SpkiOf(key), std::move(kind).value()};
}

Result<CertificateRequest> ParseCertificateRequest(std::string_view pem) {
  if (pem.size() > kMaxPemBytes) {
    return Status::InvalidArgument("not a certificate request: larger than " +
                                   std::to_string(kMaxPemBytes) + " bytes");
  }
  auto der = PemDecode(pem, "CERTIFICATE REQUEST");
  if (!der.ok()) {
    return Status::InvalidArgument("not a certificate request: " +
                                   der.status().message());
  }
  return ParseCertificateRequestDer(*der);
}

}  // namespace porthole::crypto
