// Fuzzes ParsePublicKeyBlob() with arbitrary bytes. A blob that parses must
// read back identically through its one-line form, and a certificate's
// plain_blob must itself parse as the matching plain key; otherwise abort.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/crypto/digest.h"
#include "core/keys/public_key.h"

using porthole::Result;
using porthole::keys::PublicKey;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view blob(reinterpret_cast<const char*>(data), size);
  Result<PublicKey> key = porthole::keys::ParsePublicKeyBlob(blob);
  if (!key.ok()) return 0;
  if (key->blob != blob || key->bits < 0) std::abort();

  std::string line = key->TypeName() + " " +
                     porthole::crypto::Base64Encode(key->blob) + " fuzz";
  std::string comment;
  Result<PublicKey> again = porthole::keys::ParsePublicKeyLine(line, &comment);
  if (!again.ok() || !(*again == *key) || comment != "fuzz") std::abort();

  Result<PublicKey> plain = porthole::keys::ParsePublicKeyBlob(key->plain_blob);
  if (!plain.ok() || plain->certificate || plain->type != key->type ||
      plain->bits != key->bits || plain->application != key->application) {
    std::abort();
  }
  if (!key->certificate && key->plain_blob != key->blob) std::abort();
  if (plain->Fingerprint() != key->Fingerprint()) std::abort();
  (void)key->BlobSha256Hex();
  (void)key->ShortTypeName();
  return 0;
}
