// X.509 certificates: the facts a server keeps about a client certificate
// that TLS has already verified (core/crypto/tls_server.h), and PEM framing.
//
// Plain data, copyable, thread-compatible. Nothing here throws; the OpenSSL
// error queue is left empty.
#ifndef PORTHOLE_CORE_CRYPTO_PEER_CERTIFICATE_H_
#define PORTHOLE_CORE_CRYPTO_PEER_CERTIFICATE_H_

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/status.h"

namespace porthole::crypto {

struct PeerCertificate {
  // The subject's commonName as UTF-8; empty when the subject has none.
  std::string subject_cn;
  // SHA-256 of `der`, 64 lower-case hex digits: the certificate's identity.
  std::string sha256_hex;
  // The serial number in lower-case hex without leading zeros ("0" for 0;
  // a negative serial, which RFC 5280 forbids but OpenSSL parses, keeps
  // its "-").
  std::string serial_hex;
  std::chrono::system_clock::time_point not_before;
  std::chrono::system_clock::time_point not_after;
  std::string der;  // the certificate as received
};

// Reads one DER certificate. kInvalidArgument ("certificate: ...") when the
// bytes are not exactly one certificate, the subject holds more than one
// commonName (an ambiguous identity), the commonName contains NUL or is not
// convertible to UTF-8, or a validity date does not parse.
Result<PeerCertificate> ParsePeerCertificateDer(std::string_view der);

// The DER of every "CERTIFICATE" block of `pem`, in order. kInvalidArgument
// when there is none or a block does not parse; other PEM blocks (keys) are
// skipped.
Result<std::vector<std::string>> PeerCertificatesFromPem(std::string_view pem);

}  // namespace porthole::crypto

#endif  // PORTHOLE_CORE_CRYPTO_PEER_CERTIFICATE_H_
