#include "core/crypto/peer_certificate.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <climits>
#include <ctime>
#include <memory>

#include "core/crypto/digest.h"
#include "core/crypto/openssl_util.h"

namespace porthole::crypto {
namespace {

using ossl::X509Ptr;

struct OpensslFree {
  void operator()(void* p) const { OPENSSL_free(p); }
};

Status Invalid(std::string_view why) {
  ERR_clear_error();
  return Status::InvalidArgument("certificate: " + std::string(why));
}

Result<std::chrono::system_clock::time_point> ToTimePoint(
    const ASN1_TIME* t, std::string_view what) {
  struct tm tm = {};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) {
    return Invalid(std::string(what) + " does not parse");
  }
  time_t secs = timegm(&tm);
  return std::chrono::system_clock::from_time_t(secs);
}

Result<std::string> SubjectCn(X509* cert) {
  X509_NAME* name = X509_get_subject_name(cert);
  int at = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (at < 0) return std::string();
  if (X509_NAME_get_index_by_NID(name, NID_commonName, at) >= 0) {
    return Invalid("subject has more than one commonName");
  }
  ASN1_STRING* value = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, at));
  unsigned char* utf8 = nullptr;
  int len = ASN1_STRING_to_UTF8(&utf8, value);
  if (len < 0) return Invalid("commonName is not convertible to UTF-8");
  std::unique_ptr<unsigned char, OpensslFree> owned(utf8);
  std::string cn(reinterpret_cast<const char*>(utf8), len);
  if (cn.find('\0') != std::string::npos) {
    return Invalid("commonName contains NUL");
  }
  return cn;
}

}  // namespace

Result<PeerCertificate> ParsePeerCertificateDer(std::string_view der) {
  if (der.empty() || der.size() > INT_MAX) return Invalid("empty or too long");
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!cert) return Invalid("not a DER certificate");
  if (p != reinterpret_cast<const unsigned char*>(der.data()) + der.size()) {
    return Invalid("bytes after the certificate");
  }
  PeerCertificate info;
  PH_ASSIGN_OR_RETURN(info.subject_cn, SubjectCn(cert.get()));
  auto serial = ossl::SerialHex(cert.get());
  if (!serial.ok()) return Invalid("serial number does not parse");
  info.serial_hex = *std::move(serial);
  PH_ASSIGN_OR_RETURN(
      info.not_before,
      ToTimePoint(X509_get0_notBefore(cert.get()), "notBefore"));
  PH_ASSIGN_OR_RETURN(info.not_after,
                      ToTimePoint(X509_get0_notAfter(cert.get()), "notAfter"));
  info.sha256_hex = HexEncode(Sha256(der));
  info.der = std::string(der);
  ERR_clear_error();
  return info;
}

Result<std::vector<std::string>> PeerCertificatesFromPem(std::string_view pem) {
  if (pem.size() > INT_MAX) return Invalid("PEM too long");
  ossl::BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return Invalid("out of memory");
  std::vector<std::string> out;
  for (;;) {
    X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert) break;
    std::string der = ossl::ToDer(cert.get(), i2d_X509);
    if (der.empty()) return Invalid("cannot encode a PEM certificate");
    out.push_back(std::move(der));
  }
  // The loop ends on "no start line" at the end of the text; anything else
  // is a block that did not parse.
  unsigned long err = ERR_peek_last_error();
  bool clean_end = ERR_GET_LIB(err) == ERR_LIB_PEM &&
                   ERR_GET_REASON(err) == PEM_R_NO_START_LINE;
  ERR_clear_error();
  if (!clean_end && err != 0) return Invalid("a PEM block does not parse");
  if (out.empty()) return Invalid("no CERTIFICATE block in PEM");
  return out;
}

}  // namespace porthole::crypto
