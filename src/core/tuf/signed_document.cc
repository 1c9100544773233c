#include "core/tuf/signed_document.h"

#include "core/crypto/digest.h"
#include "core/tuf/canonical_json.h"
#include "core/tuf/key.h"

namespace porthole::tuf {

ErrorOr<SignedDocument> ParseSignedDocument(std::string_view bytes,
                                            std::string_view name,
                                            size_t max_bytes) {
  const std::string n(name);
  if (bytes.size() > max_bytes) {
    return Error(ErrorCode::kTooLarge,
                 n + ": larger than " + std::to_string(max_bytes) + " bytes");
  }
  ErrorOr<Json> json = ParseJson(bytes);
  if (!json.ok()) {
    return Error(ErrorCode::kNotJson,
                 n + ": not JSON (" + json.error().message() +
                     "); body starts '" + Excerpt(bytes) + "'");
  }
  if (!json->is_object()) {
    return Error(ErrorCode::kMalformed, n + ": not a JSON object");
  }
  TUF_ASSIGN_OR_RETURN(const Json* signed_value,
                       RequireObject(*json, "signed", n));
  TUF_ASSIGN_OR_RETURN(const Json* signatures,
                       RequireArray(*json, "signatures", n));
  if (signatures->size() > kMaxSignatures) {
    return Error(
        ErrorCode::kBadSignature,
        n + ": more than " + std::to_string(kMaxSignatures) + " signatures");
  }

  SignedDocument doc;
  doc.name = n;
  for (size_t i = 0; i < signatures->size(); ++i) {
    const Json& entry = (*signatures)[i];
    std::string where = n + ": signature " + std::to_string(i);
    if (!entry.is_object()) {
      return Error(ErrorCode::kBadSignature, where + " is not an object");
    }
    ErrorOr<std::string> keyid = RequireString(entry, "keyid", where);
    ErrorOr<std::string> sig = RequireString(entry, "sig", where);
    if (!keyid.ok())
      return Error(ErrorCode::kBadSignature, keyid.error().message());
    if (!sig.ok())
      return Error(ErrorCode::kBadSignature, sig.error().message());
    std::optional<std::string> id = NormalizeKeyId(*keyid);
    if (!id) {
      return Error(ErrorCode::kBadSignature, where + ": keyid is not hex");
    }
    Result<std::string> raw = crypto::Base64Decode(*sig);
    if (!raw.ok()) {
      return Error(ErrorCode::kBadSignature,
                   where + ": sig: " + raw.status().message());
    }
    doc.signatures.push_back({std::move(*id), std::move(*raw)});
  }

  ErrorOr<std::string> canonical = CanonicalJson(*signed_value);
  if (!canonical.ok()) {
    return Error(ErrorCode::kNotCanonical,
                 n + ": signed" + canonical.error().message());
  }
  doc.canonical = std::move(*canonical);
  doc.signed_value = *signed_value;
  return doc;
}

}  // namespace porthole::tuf
