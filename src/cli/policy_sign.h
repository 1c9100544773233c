// Offline signing of porthole-server's policy (`porthole policy keygen`,
// `porthole policy sign`): the remote-sessions signing key can live on the
// operator's machine instead of the server, so a compromised server cannot
// let a key in on its own (DESIGN.md, Trust).
//
// The key file is core/tuf's Signer::ToKeyFile() format (ED25519, private
// key as PKCS#8 PEM); its public half, Signer::PublicJson(), is exactly the
// entry a root's `keys` map holds, which `porthole-server root rotate`
// takes. Signing appends this key's signature over the canonical JSON of
// `signed` (core/tuf/canonical_json.h), as the devices verify it.
#ifndef PORTHOLE_CLI_POLICY_SIGN_H_
#define PORTHOLE_CLI_POLICY_SIGN_H_

#include <string>
#include <string_view>

#include "core/base/status.h"
#include "core/tuf/signer.h"

namespace porthole::cli {

struct PolicyKey {
  std::string key_file;     // Signer::ToKeyFile(): secret, write 0600
  std::string public_file;  // Signer::PublicJson(), indented, final newline
  std::string keyid;
};

// A new ed25519 signing key.
Result<PolicyKey> GeneratePolicyKey();

// Reads a key file (at most 64 KiB); kInvalidArgument naming the file for
// anything Signer::FromKeyFile() refuses.
Result<tuf::Signer> LoadPolicyKey(const std::string& path);

// `document` ({"signed": {...}, "signatures": [...]}, as `porthole-server
// policy export` writes it) with `signer`'s signature appended, as
// indented JSON with a final newline. Refused (kInvalidArgument, one line
// naming `name`): a document that does not parse as signed metadata, whose
// `signed._type` is not "Remote-Sessions" or "Root", or that `signer` has
// already signed (same keyid).
Result<std::string> SignPolicyDocument(std::string_view document,
                                       const tuf::Signer& signer,
                                       std::string_view name);

}  // namespace porthole::cli

#endif  // PORTHOLE_CLI_POLICY_SIGN_H_
