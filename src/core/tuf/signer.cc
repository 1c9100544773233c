#include "core/tuf/signer.h"

#include <algorithm>

#include "core/crypto/digest.h"
#include "core/keys/public_key.h"
#include "core/tuf/canonical_json.h"
#include "core/tuf/remote_sessions.h"
#include "core/tuf/rfc3339.h"

namespace porthole::tuf {
namespace {

constexpr char kKeyFile[] = "key file";
constexpr size_t kEd25519SeedBytes = 32;

Error Unsupported(const std::string& reason) {
  return Error(ErrorCode::kUnsupportedKey,
               std::string(kKeyFile) + ": " + reason);
}

// The public key as written in `keyval.public` (hex or PEM) decoded.
ErrorOr<std::string> DecodePublic(KeyType type, const std::string& text) {
  if (type == KeyType::kRsa) {
    Result<std::string> der = crypto::PemDecode(text, "PUBLIC KEY");
    if (!der.ok()) return Unsupported("public: " + der.status().message());
    return std::move(*der);
  }
  std::optional<std::string> raw = HexDecode(text);
  if (!raw) return Unsupported("public is not hex");
  return std::move(*raw);
}

}  // namespace

Signer::Signer(crypto::SigningKey key)
    : key_(std::move(key)),
      type_(KeyTypeFor(key_.scheme())),
      keyid_(KeyIdOf(type_, key_.PublicBytes())) {}

ErrorOr<Signer> Signer::FromKeyFile(std::string_view json_text) {
  TUF_ASSIGN_OR_RETURN(Json json, ParseJson(json_text));
  if (!json.is_object()) {
    return Error(ErrorCode::kMalformed, "key file: not a JSON object");
  }
  TUF_ASSIGN_OR_RETURN(std::string keytype,
                       RequireString(json, "keytype", kKeyFile));
  TUF_ASSIGN_OR_RETURN(const Json* keyval,
                       RequireObject(json, "keyval", kKeyFile));
  TUF_ASSIGN_OR_RETURN(std::string priv,
                       RequireString(*keyval, "private", "key file keyval"));

  Result<crypto::SigningKey> key = Status::Internal("unset");
  std::optional<std::string> raw = HexDecode(priv);
  if (keytype == "ED25519" && raw) {
    // RAC's form: the 32-byte seed followed by the 32-byte public key.
    if (raw->size() != 2 * kEd25519SeedBytes) {
      return Unsupported("ED25519 private key must be 64 bytes of hex");
    }
    key =
        crypto::SigningKey::FromEd25519Seed(raw->substr(0, kEd25519SeedBytes));
    if (key.ok() && key->PublicBytes() != raw->substr(kEd25519SeedBytes)) {
      return Unsupported("ED25519 private key holds the wrong public key");
    }
  } else {
    key = crypto::SigningKey::FromPem(priv);
  }
  if (!key.ok()) return Unsupported(key.status().message());
  Signer signer(std::move(*key));
  if (KeyTypeName(signer.type()) != keytype) {
    return Unsupported("keytype '" + Excerpt(keytype) + "' but the key is " +
                       std::string(KeyTypeName(signer.type())));
  }
  if (const Json* pub = FindMember(*keyval, "public")) {
    if (!pub->is_string()) {
      return Error(ErrorCode::kMalformed, "key file: public must be a string");
    }
    TUF_ASSIGN_OR_RETURN(
        std::string bytes,
        DecodePublic(signer.type(), pub->get_ref<const std::string&>()));
    if (bytes != signer.key().PublicBytes()) {
      return Unsupported("public does not match the private key");
    }
  }
  return signer;
}

ErrorOr<std::string> Signer::ToKeyFile() const {
  Result<std::string> pem = key_.ToPkcs8Pem();
  if (!pem.ok()) return Unsupported(pem.status().message());
  Json file = PublicJson();
  file["keyval"]["private"] = std::move(*pem);
  return DumpJsonPretty(file);
}

Json Signer::PublicJson() const { return KeyToJson(type_, key_.PublicBytes()); }

ErrorOr<Json> Signer::Sign(const Json& signed_value) const {
  TUF_ASSIGN_OR_RETURN(std::string canonical, CanonicalJson(signed_value));
  Result<std::string> sig = key_.Sign(canonical);
  if (!sig.ok()) {
    return Error(ErrorCode::kUnsupportedKey,
                 "signing failed: " + sig.status().message());
  }
  return Json{
      {"keyid", keyid_},
      {"method", std::string(crypto::SignatureSchemeName(key_.scheme()))},
      {"sig", crypto::Base64Encode(*sig)}};
}

ErrorOr<Json> SignMetadata(const Json& signed_value,
                           const std::vector<const Signer*>& signers) {
  Json signatures = Json::array();
  for (const Signer* s : signers) {
    TUF_ASSIGN_OR_RETURN(Json sig, s->Sign(signed_value));
    signatures.push_back(std::move(sig));
  }
  return Json{{"signatures", std::move(signatures)}, {"signed", signed_value}};
}

ErrorOr<std::string> SignMetadataText(
    const Json& signed_value, const std::vector<const Signer*>& signers) {
  TUF_ASSIGN_OR_RETURN(Json doc, SignMetadata(signed_value, signers));
  return DumpJsonPretty(doc);
}

void RootSpec::AddRoleKey(const std::string& role, const Signer& signer) {
  keys.emplace(signer.keyid(), signer.PublicJson());
  std::vector<std::string>& ids = roles[role].keyids;
  if (std::find(ids.begin(), ids.end(), signer.keyid()) == ids.end()) {
    ids.push_back(signer.keyid());
  }
}

Json BuildRoot(const RootSpec& spec) {
  Json keys = Json::object();
  for (const auto& [id, key] : spec.keys) keys[id] = key;
  Json roles = Json::object();
  for (const auto& [name, role] : spec.roles) {
    roles[name] = {{"keyids", role.keyids}, {"threshold", role.threshold}};
  }
  return Json{{"_type", "Root"},
              {"consistent_snapshot", spec.consistent_snapshot},
              {"expires", FormatRfc3339(spec.expires)},
              {"keys", std::move(keys)},
              {"roles", std::move(roles)},
              {"spec_version", "1.0"},
              {"version", spec.version}};
}

ErrorOr<Json> BuildRemoteSessions(const RemoteSessionsSpec& spec) {
  Json authorized = Json::object();
  for (size_t i = 0; i < spec.authorized_keys.size(); ++i) {
    const std::string& line = spec.authorized_keys[i];
    Result<keys::PublicKey> key = keys::ParsePublicKeyLine(line);
    if (!key.ok()) {
      return Error(ErrorCode::kMalformed,
                   "authorized key: " + key.status().message());
    }
    Json entry{{"pubkey", line}};
    if (i < spec.authorized_key_names.size() &&
        !spec.authorized_key_names[i].empty()) {
      entry["meta"] = {{"name", spec.authorized_key_names[i]}};
    }
    authorized[key->BlobSha256Hex()] = std::move(entry);
  }
  for (const std::string& line : spec.ra_server_ssh_pubkeys) {
    Result<keys::PublicKey> key = keys::ParsePublicKeyLine(line);
    if (!key.ok()) {
      return Error(ErrorCode::kMalformed,
                   "relay key: " + key.status().message());
    }
  }
  Json doc{{"_type", std::string(kRemoteSessionsType)},
           {"expires", FormatRfc3339(spec.expires)},
           {"version", spec.version},
           {"remote_sessions",
            {{"ssh",
              {{"authorized_keys", std::move(authorized)},
               {"properties_version", "v1alpha"},
               {"ra_server_hosts", spec.ra_server_hosts},
               {"ra_server_ssh_pubkeys", spec.ra_server_ssh_pubkeys}}},
             {"version", "v1alpha"}}}};
  if (spec.allowed_commands) {
    Json allowed = Json::object();
    for (const auto& [name, args] : *spec.allowed_commands) {
      allowed[name] = {{"args", args}};
    }
    doc["remote_commands"] = {{"allowed_commands", std::move(allowed)},
                              {"version", "v1alpha"}};
  }
  return doc;
}

}  // namespace porthole::tuf
