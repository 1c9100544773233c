// Fuzzes `porthole policy sign` on an untrusted document: whatever it signs
// must parse as signed metadata again with exactly one more signature, and
// that signature must verify over the canonical `signed`.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "cli/policy_sign.h"
#include "core/crypto/signature.h"
#include "core/tuf/signed_document.h"

namespace {

const porthole::tuf::Signer& Key() {
  static const porthole::tuf::Signer* key = new porthole::tuf::Signer(
      porthole::crypto::SigningKey::FromEd25519Seed(std::string(32, '\x07'))
          .value());
  return *key;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto out = porthole::cli::SignPolicyDocument(input, Key(), "in");
  if (!out.ok()) return 0;
  auto before = porthole::tuf::ParseSignedDocument(input, "in");
  auto after = porthole::tuf::ParseSignedDocument(*out, "out");
  if (!before.ok() || !after.ok()) std::abort();
  if (after->signatures.size() != before->signatures.size() + 1) std::abort();
  if (after->canonical != before->canonical) std::abort();
  const auto& sig = after->signatures.back();
  if (sig.keyid != Key().keyid()) std::abort();
  auto pub = Key().key().Public();
  if (!pub.ok() || !pub->Verify(after->canonical, sig.sig)) std::abort();
  return 0;
}
