#include "cli/policy_sign.h"

#include "core/base/file.h"
#include "core/crypto/signature.h"
#include "core/tuf/signed_document.h"

namespace porthole::cli {

Result<PolicyKey> GeneratePolicyKey() {
  tuf::Signer signer(crypto::SigningKey::GenerateEd25519());
  auto key_file = signer.ToKeyFile();
  if (!key_file.ok()) return key_file.error().ToStatus();
  auto pub = tuf::DumpJsonPretty(signer.PublicJson());
  if (!pub.ok()) return pub.error().ToStatus();
  return PolicyKey{std::move(*key_file), std::move(*pub), signer.keyid()};
}

Result<tuf::Signer> LoadPolicyKey(const std::string& path) {
  PH_ASSIGN_OR_RETURN(std::string text, ReadFile(path, 64 << 10, true));
  auto signer = tuf::Signer::FromKeyFile(text);
  if (!signer.ok()) {
    return Status::InvalidArgument(path + ": " + signer.error().message());
  }
  return std::move(*signer);
}

Result<std::string> SignPolicyDocument(std::string_view document,
                                       const tuf::Signer& signer,
                                       std::string_view name) {
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument(std::string(name) + ": " + why);
  };
  // The envelope checks the devices apply (size, JSON, `signed` and
  // `signatures`, each signature entry well formed, canonical form).
  auto doc = tuf::ParseSignedDocument(document, name);
  if (!doc.ok()) return Status::InvalidArgument(doc.error().message());
  const tuf::Json* type = tuf::FindMember(doc->signed_value, "_type");
  std::string t = type && type->is_string()
                      ? type->get_ref<const std::string&>()
                      : std::string();
  if (t != "Remote-Sessions" && t != "Root") {
    return bad("signed._type is '" + tuf::Excerpt(t) +
               "', not Remote-Sessions or Root; refusing to sign it");
  }
  for (const auto& s : doc->signatures) {
    if (s.keyid == signer.keyid()) {
      return bad("already signed by key " + signer.keyid());
    }
  }
  auto full = tuf::ParseJson(document);
  if (!full.ok()) return Status::InvalidArgument(full.error().message());
  auto sig = signer.Sign(doc->signed_value);
  if (!sig.ok()) return sig.error().ToStatus();
  (*full)["signatures"].push_back(std::move(*sig));
  auto text = tuf::DumpJsonPretty(*full);
  if (!text.ok()) return text.error().ToStatus();
  return std::move(*text);
}

}  // namespace porthole::cli
