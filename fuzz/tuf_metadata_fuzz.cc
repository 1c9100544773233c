// Fuzzes TUF metadata as it arrives from a director: the envelope, the root
// and remote-sessions schemas, the policies inside, and the full checks
// against a fixed trusted root (rotation and remote-sessions verification).
// Nothing must crash, leak or hang; anything accepted by the verifiers must
// parse again on its own.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/crypto/signature.h"
#include "core/tuf/remote_sessions.h"
#include "core/tuf/rfc3339.h"
#include "core/tuf/root.h"
#include "core/tuf/signed_document.h"
#include "core/tuf/signer.h"
#include "core/tuf/verifier.h"

namespace {

using namespace porthole::tuf;  // NOLINT: a fuzz harness

// A trusted root (version 3) whose one Ed25519 key, from a fixed seed,
// holds both the root and the remote-sessions role, as in RAC's integration
// tests.
const Root& TrustedRoot() {
  static const Root* root = [] {
    Signer key(
        porthole::crypto::SigningKey::FromEd25519Seed(std::string(32, '\x42'))
            .value());
    RootSpec spec;
    spec.version = 3;
    spec.expires = ParseRfc3339("2034-01-01T00:00:00Z").value();
    spec.AddRoleKey("root", key);
    spec.AddRoleKey("remote-sessions", key);
    std::string text = SignMetadataText(BuildRoot(spec), {&key}).value();
    return new Root(VerifyTrustedRoot(text, "root.json").value());
  }();
  return *root;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  const Root& trusted = TrustedRoot();
  const porthole::SystemTime now = ParseRfc3339("2025-07-30T16:00:00Z").value();

  ErrorOr<SignedDocument> doc = ParseSignedDocument(input, "fuzz.json");
  if (doc.ok()) {
    ErrorOr<Root> root = ParseRoot(*doc);
    if (root.ok()) {
      (void)VerifyRole(*doc, *root, kRootRole);
      (void)VerifyRole(*doc, trusted, kRootRole);
      for (const auto& [name, role] : root->roles) {
        (void)VerifyRole(*doc, *root, name);
      }
    }
    ErrorOr<RemoteSessions> rs = ParseRemoteSessions(*doc);
    if (rs.ok()) {
      (void)ParseSshPolicy(*rs);
      ErrorOr<std::optional<CommandPolicy>> commands = ParseCommandPolicy(*rs);
      if (commands.ok() && commands->has_value()) {
        (void)(*commands)->Allows("echo", {"test"});
      }
    }
  }

  (void)VerifyTrustedRoot(input, "root.json");
  ErrorOr<Root> next = VerifyRootUpdate(trusted, input, "4.root.json");
  if (next.ok() && !ParseSignedDocument(input, "again").ok()) std::abort();
  ErrorOr<RemoteSessions> verified = VerifyRemoteSessions(trusted, input, now);
  if (verified.ok() && !ParseSignedDocument(input, "again").ok()) std::abort();
  return 0;
}
