// Fuzzes ParseCertificateRequest() (a CSR is what a device, untrusted, sends
// to `porthole-server device add --csr`): PEM and DER. A failure must be one
// kInvalidArgument line; an accepted request must yield a key that passes
// CheckCertificateKey() and that a device certificate can be issued for,
// and that certificate must carry that key. A difference aborts.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/crypto/x509.h"

namespace {

using porthole::crypto::CertificateAuthority;

const CertificateAuthority& Ca() {
  static const CertificateAuthority* ca = [] {
    auto key = porthole::crypto::SigningKey::GenerateEcdsaP256();
    auto now = std::chrono::system_clock::now();
    auto cert = porthole::crypto::MakeSelfSignedCa(
        key, "fuzz CA", {now, now + std::chrono::hours(1)});
    if (!cert.ok()) std::abort();
    return new CertificateAuthority{std::move(cert).value(), key};
  }();
  return *ca;
}

void Check(const porthole::Result<porthole::crypto::CertificateRequest>& r) {
  if (!r.ok()) {
    const std::string& m = r.status().message();
    if (m.empty() || m.find('\n') != std::string::npos ||
        r.status().code() != porthole::StatusCode::kInvalidArgument) {
      std::abort();
    }
    return;
  }
  if (!porthole::crypto::CheckCertificateKey(r->public_key_spki).ok()) {
    std::abort();
  }
  auto now = std::chrono::system_clock::now();
  auto cert = porthole::crypto::IssueDeviceCertificate(
      Ca(), r->public_key_spki, "1b4e28ba-2fa1-4d2e-883f-0016d3cca427",
      {now, now + std::chrono::hours(1)});
  if (!cert.ok() || cert->PublicKeySpki() != r->public_key_spki) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  Check(porthole::crypto::ParseCertificateRequest(input));
  Check(porthole::crypto::ParseCertificateRequestDer(input));
  // Certificates are read from the data dir with the same care.
  auto chain = porthole::crypto::Certificate::ChainFromPem(input);
  if (chain.ok()) {
    for (const auto& c : *chain) (void)c.Info();
  }
  auto der = porthole::crypto::Certificate::FromDer(input);
  if (der.ok()) {
    (void)der->Info();
    (void)der->IsCa();
    (void)der->PublicKeySpki();
  }
  return 0;
}
