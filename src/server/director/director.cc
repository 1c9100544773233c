#include "server/director/director.h"

#include <sys/stat.h>

#include <algorithm>
#include <set>
#include <tuple>
#include <utility>

#include "core/base/file.h"
#include "core/crypto/signature.h"
#include "core/tuf/key.h"
#include "core/tuf/signed_document.h"
#include "core/tuf/verifier.h"

namespace porthole::server::director {
namespace {

constexpr size_t kMaxKeyFileBytes = 64 * 1024;

Status FromTuf(const tuf::Error& e) {
  if (e.ok()) return Status::Ok();
  Status s = e.ToStatus();
  // A document we built ourselves that does not verify is our bug or a
  // broken key file; callers see the check that failed.
  return Status(s.code(), e.message());
}

SystemTime FloorSeconds(SystemTime t) {
  return std::chrono::time_point_cast<std::chrono::seconds>(t);
}

// The `signed` part of a stored document (already verified once).
Result<tuf::Json> SignedPart(std::string_view text, std::string_view name) {
  tuf::ErrorOr<tuf::SignedDocument> doc = tuf::ParseSignedDocument(text, name);
  if (!doc.ok()) return FromTuf(doc.error());
  return std::move(doc->signed_value);
}

// A RootSpec that reproduces `root_signed` (keys and roles), for the next
// version.
Result<tuf::RootSpec> SpecOf(const tuf::Json& root_signed) {
  tuf::RootSpec spec;
  const tuf::Json* keys = tuf::FindMember(root_signed, "keys");
  const tuf::Json* roles = tuf::FindMember(root_signed, "roles");
  if (!keys || !roles || !keys->is_object() || !roles->is_object()) {
    return Status::Corrupt("stored root.json: no keys or roles");
  }
  for (const auto& [id, key] : keys->items()) spec.keys[id] = key;
  for (const auto& [name, role] : roles->items()) {
    tuf::RootSpec::Role r;
    tuf::ErrorOr<std::vector<std::string>> ids =
        tuf::RequireStringArray(role, "keyids", "root role");
    tuf::ErrorOr<uint64_t> threshold =
        tuf::RequireUint(role, "threshold", 1, "root role");
    if (!ids.ok()) return FromTuf(ids.error());
    if (!threshold.ok()) return FromTuf(threshold.error());
    r.keyids = *ids;
    r.threshold = *threshold;
    spec.roles[name] = std::move(r);
  }
  if (const tuf::Json* cs = tuf::FindMember(root_signed, "consistent_snapshot");
      cs && cs->is_boolean()) {
    spec.consistent_snapshot = cs->get<bool>();
  }
  return spec;
}

// Drops keys no role uses any more.
void PruneKeys(tuf::RootSpec* spec) {
  std::set<std::string> used;
  for (const auto& [name, role] : spec->roles) {
    used.insert(role.keyids.begin(), role.keyids.end());
  }
  for (auto it = spec->keys.begin(); it != spec->keys.end();) {
    it = used.count(it->first) ? std::next(it) : spec->keys.erase(it);
  }
}

// Same content, whatever the order: a signed document lists the operator
// keys by keyid (hex SHA-256), so the policy read back from it has them in
// another order than the draft they were signed from.
Policy Normalised(Policy p) {
  std::sort(p.authorized_keys.begin(), p.authorized_keys.end(),
            [](const PolicyKey& x, const PolicyKey& y) {
              return std::tie(x.line, x.name) < std::tie(y.line, y.name);
            });
  std::sort(p.relay_hosts.begin(), p.relay_hosts.end());
  std::sort(p.relay_keys.begin(), p.relay_keys.end());
  return p;
}

bool SamePolicy(const Policy& a, const Policy& b) {
  return FormatPolicy(Normalised(a)) == FormatPolicy(Normalised(b));
}

}  // namespace

Director::Director(Store* store, std::string key_dir, const Clock* clock,
                   DirectorOptions options)
    : store_(store),
      key_dir_(std::move(key_dir)),
      clock_(clock),
      options_(options) {}

std::string Director::KeyPath(const std::string& keyid) const {
  return key_dir_ + "/" + keyid + ".json";
}

Result<tuf::Signer> Director::NewKey() {
  tuf::Signer signer(crypto::SigningKey::GenerateEd25519());
  tuf::ErrorOr<std::string> file = signer.ToKeyFile();
  if (!file.ok()) return FromTuf(file.error());
  PH_RETURN_IF_ERROR(MakeDirs(key_dir_, 0700));
  if (::chmod(key_dir_.c_str(), 0700) != 0) {
    return PosixError("chmod " + key_dir_, errno);
  }
  PH_RETURN_IF_ERROR(AtomicReplace(KeyPath(signer.keyid()), *file,
                                   ReplaceOptions::NewMode(0600)));
  return signer;
}

Result<tuf::Root> Director::LatestRoot() {
  PH_ASSIGN_OR_RETURN(std::string text,
                      store_->GetMetadata(kRootRole, std::nullopt));
  tuf::ErrorOr<tuf::Root> root = tuf::VerifyTrustedRoot(text, "root.json");
  if (!root.ok()) return FromTuf(root.error());
  return std::move(*root);
}

Result<std::vector<tuf::Signer>> Director::OnlineSigners(
    const tuf::Root& root, std::string_view role) {
  std::vector<tuf::Signer> signers;
  const tuf::RoleKeys* keys = root.FindRole(role);
  if (!keys) return signers;
  for (const std::string& id : keys->keyids) {
    std::string path = KeyPath(id);
    if (!PathExists(path)) continue;
    PH_ASSIGN_OR_RETURN(std::string text, ReadFile(path, kMaxKeyFileBytes));
    tuf::ErrorOr<tuf::Signer> signer = tuf::Signer::FromKeyFile(text);
    if (!signer.ok()) {
      return Status::Corrupt(path + ": " + signer.error().message());
    }
    if (signer->keyid() != id) {
      return Status::Corrupt(path + ": holds key " + signer->keyid());
    }
    signers.push_back(std::move(*signer));
  }
  return signers;
}

Result<Policy> Director::LoadDraft() {
  PH_ASSIGN_OR_RETURN(std::optional<std::string> text,
                      store_->GetSetting(kPolicySetting));
  if (!text) return Policy();
  Result<Policy> policy = ParsePolicy(*text, "stored policy draft");
  if (!policy.ok()) return Status::Corrupt(policy.status().message());
  return policy;
}

Status Director::SaveDraft(const Policy& policy) {
  return store_->PutSetting(kPolicySetting, FormatPolicy(policy));
}

Result<uint64_t> Director::StoreRoot(
    const tuf::Root& old_root, const tuf::RootSpec& spec,
    const std::vector<const tuf::Signer*>& signers) {
  tuf::ErrorOr<std::string> text =
      tuf::SignMetadataText(tuf::BuildRoot(spec), signers);
  if (!text.ok()) return FromTuf(text.error());
  std::string name = std::to_string(spec.version) + ".root.json";
  if (spec.version == 1) {
    tuf::ErrorOr<tuf::Root> self = tuf::VerifyTrustedRoot(*text, name);
    if (!self.ok()) return FromTuf(self.error());
  } else {
    tuf::ErrorOr<tuf::Root> next = tuf::VerifyRootUpdate(old_root, *text, name);
    if (!next.ok()) return FromTuf(next.error());
    if (next->version != spec.version) {
      return Status::Internal(name + ": version did not advance");
    }
  }
  PH_RETURN_IF_ERROR(store_->PutMetadata(kRootRole, spec.version, *text));
  return spec.version;
}

Status Director::Initialize(const std::string& relay_host,
                            const std::string& relay_key_line) {
  std::lock_guard<std::mutex> lock(mu_);
  PH_ASSIGN_OR_RETURN(uint64_t have, store_->LatestMetadataVersion(kRootRole));
  if (have != 0) {
    return Status::AlreadyExists("the director already has root version " +
                                 std::to_string(have));
  }
  Policy draft;
  PH_RETURN_IF_ERROR(draft.AllowRelayHost(relay_host));
  PH_RETURN_IF_ERROR(draft.AllowRelayKey(relay_key_line));
  PH_ASSIGN_OR_RETURN(tuf::Signer root_key, NewKey());
  PH_ASSIGN_OR_RETURN(tuf::Signer rs_key, NewKey());
  tuf::RootSpec spec;
  spec.version = 1;
  spec.expires = FloorSeconds(clock_->Now() + options_.root_expiry);
  spec.AddRoleKey(kRootRole, root_key);
  spec.AddRoleKey(kRemoteSessionsRole, rs_key);
  PH_ASSIGN_OR_RETURN(uint64_t version,
                      StoreRoot(tuf::Root(), spec, {&root_key}));
  (void)version;
  PH_RETURN_IF_ERROR(SaveDraft(draft));
  PH_ASSIGN_OR_RETURN(uint64_t rs_version, PublishLocked(draft));
  (void)rs_version;
  return Status::Ok();
}

Result<uint64_t> Director::PublishLocked(const Policy& policy) {
  PH_ASSIGN_OR_RETURN(tuf::Root root, LatestRoot());
  PH_ASSIGN_OR_RETURN(std::vector<tuf::Signer> signers,
                      OnlineSigners(root, kRemoteSessionsRole));
  const tuf::RoleKeys* role = root.FindRole(kRemoteSessionsRole);
  if (!role) {
    return Status::FailedPrecondition(
        "the root has no remote-sessions role; rotate the root first");
  }
  if (signers.size() < role->threshold) {
    return Status::FailedPrecondition(
        "the remote-sessions signing key is offline: run `porthole-server "
        "policy export`, sign it with `porthole policy sign`, then `policy "
        "import`");
  }
  PH_ASSIGN_OR_RETURN(uint64_t latest,
                      store_->LatestMetadataVersion(kRemoteSessionsRole));
  uint64_t version = latest + 1;
  SystemTime now = clock_->Now();
  tuf::ErrorOr<tuf::Json> doc = tuf::BuildRemoteSessions(policy.ToSpec(
      version, FloorSeconds(now + options_.remote_sessions_expiry)));
  if (!doc.ok()) return FromTuf(doc.error());
  std::vector<const tuf::Signer*> by;
  for (const tuf::Signer& s : signers) by.push_back(&s);
  tuf::ErrorOr<std::string> text = tuf::SignMetadataText(*doc, by);
  if (!text.ok()) return FromTuf(text.error());
  tuf::ErrorOr<tuf::RemoteSessions> check = tuf::VerifyRemoteSessions(
      root, *text, now,
      latest ? std::optional<uint64_t>(latest + 1) : std::nullopt);
  if (!check.ok()) return FromTuf(check.error());
  PH_RETURN_IF_ERROR(store_->PutMetadata(kRemoteSessionsRole, version, *text));
  return version;
}

Result<uint64_t> Director::Publish() {
  std::lock_guard<std::mutex> lock(mu_);
  PH_ASSIGN_OR_RETURN(Policy draft, LoadDraft());
  return PublishLocked(draft);
}

Result<uint64_t> Director::Edit(const std::function<Status(Policy&)>& edit) {
  std::lock_guard<std::mutex> lock(mu_);
  PH_ASSIGN_OR_RETURN(Policy draft, LoadDraft());
  PH_RETURN_IF_ERROR(edit(draft));
  PH_ASSIGN_OR_RETURN(tuf::Root root, LatestRoot());
  PH_ASSIGN_OR_RETURN(std::vector<tuf::Signer> signers,
                      OnlineSigners(root, kRemoteSessionsRole));
  const tuf::RoleKeys* role = root.FindRole(kRemoteSessionsRole);
  bool online = role && signers.size() >= role->threshold;
  PH_RETURN_IF_ERROR(SaveDraft(draft));
  if (!online) return uint64_t{0};
  return PublishLocked(draft);
}

Result<std::string> Director::Export() {
  std::lock_guard<std::mutex> lock(mu_);
  PH_ASSIGN_OR_RETURN(Policy draft, LoadDraft());
  PH_ASSIGN_OR_RETURN(uint64_t latest,
                      store_->LatestMetadataVersion(kRemoteSessionsRole));
  tuf::ErrorOr<tuf::Json> doc = tuf::BuildRemoteSessions(draft.ToSpec(
      latest + 1,
      FloorSeconds(clock_->Now() + options_.remote_sessions_expiry)));
  if (!doc.ok()) return FromTuf(doc.error());
  tuf::ErrorOr<std::string> text = tuf::DumpJsonPretty(tuf::Json{
      {"signatures", tuf::Json::array()}, {"signed", std::move(*doc)}});
  if (!text.ok()) return FromTuf(text.error());
  return std::move(*text);
}

Result<uint64_t> Director::Import(std::string_view text) {
  std::lock_guard<std::mutex> lock(mu_);
  PH_ASSIGN_OR_RETURN(tuf::Root root, LatestRoot());
  PH_ASSIGN_OR_RETURN(uint64_t latest,
                      store_->LatestMetadataVersion(kRemoteSessionsRole));
  tuf::ErrorOr<tuf::RemoteSessions> doc = tuf::VerifyRemoteSessions(
      root, text, clock_->Now(), std::optional<uint64_t>(latest + 1),
      "imported document");
  if (!doc.ok()) {
    if (doc.error().code() == tuf::ErrorCode::kRollback) {
      return Status::FailedPrecondition(
          doc.error().message() + " (the server already serves version " +
          std::to_string(latest) + "; export again)");
    }
    return Status::InvalidArgument(doc.error().message());
  }
  // Devices parse remote_sessions.ssh strictly; refuse what they would.
  Result<Policy> policy = PolicyFromMetadata(*doc);
  if (!policy.ok()) {
    return Status::InvalidArgument("imported document: " +
                                   policy.status().message());
  }
  PH_RETURN_IF_ERROR(store_->PutMetadata(kRemoteSessionsRole, doc->version,
                                         std::string(text)));
  PH_RETURN_IF_ERROR(SaveDraft(*policy));
  return doc->version;
}

Result<PublishedPolicy> Director::Published() {
  PH_ASSIGN_OR_RETURN(tuf::Root root, LatestRoot());
  PH_ASSIGN_OR_RETURN(std::string text,
                      store_->GetMetadata(kRemoteSessionsRole, std::nullopt));
  // Not checked for expiry: the caller decides what an expired policy
  // means (devices will refuse it; the server says so).
  tuf::ErrorOr<tuf::RemoteSessions> doc =
      tuf::VerifyRemoteSessions(root, text, SystemTime::min(), std::nullopt);
  if (!doc.ok()) return FromTuf(doc.error());
  PublishedPolicy out;
  out.version = doc->version;
  out.expires = doc->expires;
  tuf::ErrorOr<tuf::SshPolicy> ssh = tuf::ParseSshPolicy(*doc);
  if (!ssh.ok()) return FromTuf(ssh.error());
  out.ssh = std::move(*ssh);
  tuf::ErrorOr<std::optional<tuf::CommandPolicy>> cmds =
      tuf::ParseCommandPolicy(*doc);
  if (!cmds.ok()) return FromTuf(cmds.error());
  out.commands = std::move(*cmds);
  return out;
}

Result<DirectorState> Director::State() {
  std::lock_guard<std::mutex> lock(mu_);
  DirectorState state;
  PH_ASSIGN_OR_RETURN(tuf::Root root, LatestRoot());
  state.root_version = root.version;
  state.root_expires = root.expires;
  PH_ASSIGN_OR_RETURN(std::vector<tuf::Signer> root_signers,
                      OnlineSigners(root, kRootRole));
  const tuf::RoleKeys* root_role = root.FindRole(kRootRole);
  state.root_keys_online =
      root_role && root_signers.size() >= root_role->threshold;
  PH_ASSIGN_OR_RETURN(std::vector<tuf::Signer> rs_signers,
                      OnlineSigners(root, kRemoteSessionsRole));
  const tuf::RoleKeys* rs_role = root.FindRole(kRemoteSessionsRole);
  state.remote_sessions_keys_online =
      rs_role && rs_signers.size() >= rs_role->threshold;
  PH_ASSIGN_OR_RETURN(state.draft, LoadDraft());
  PH_ASSIGN_OR_RETURN(uint64_t latest,
                      store_->LatestMetadataVersion(kRemoteSessionsRole));
  if (latest > 0) {
    PH_ASSIGN_OR_RETURN(std::string text,
                        store_->GetMetadata(kRemoteSessionsRole, latest));
    tuf::ErrorOr<tuf::SignedDocument> doc =
        tuf::ParseSignedDocument(text, "remote-sessions.json");
    if (!doc.ok()) return FromTuf(doc.error());
    tuf::ErrorOr<tuf::RemoteSessions> rs = tuf::ParseRemoteSessions(*doc);
    if (!rs.ok()) return FromTuf(rs.error());
    state.remote_sessions_version = rs->version;
    state.remote_sessions_expires = rs->expires;
    PH_ASSIGN_OR_RETURN(state.published, PolicyFromMetadata(*rs));
    state.draft_published = SamePolicy(state.draft, state.published);
  }
  return state;
}

Result<std::vector<std::string>> Director::RenewIfDue() {
  std::vector<std::string> done;
  SystemTime now = clock_->Now();
  {
    std::lock_guard<std::mutex> lock(mu_);
    PH_ASSIGN_OR_RETURN(tuf::Root root, LatestRoot());
    if (root.expires - now <= options_.root_renew_before) {
      PH_ASSIGN_OR_RETURN(std::vector<tuf::Signer> signers,
                          OnlineSigners(root, kRootRole));
      const tuf::RoleKeys* role = root.FindRole(kRootRole);
      if (!role || signers.size() < role->threshold) {
        done.push_back("warning: root.json version " +
                       std::to_string(root.version) + " expires at " +
                       root.expires_text +
                       " and its keys are offline: rotate it");
      } else {
        PH_ASSIGN_OR_RETURN(std::string text,
                            store_->GetMetadata(kRootRole, std::nullopt));
        PH_ASSIGN_OR_RETURN(tuf::Json signed_part,
                            SignedPart(text, "root.json"));
        PH_ASSIGN_OR_RETURN(tuf::RootSpec spec, SpecOf(signed_part));
        spec.version = root.version + 1;
        spec.expires = FloorSeconds(now + options_.root_expiry);
        std::vector<const tuf::Signer*> by;
        for (const tuf::Signer& s : signers) by.push_back(&s);
        PH_ASSIGN_OR_RETURN(uint64_t v, StoreRoot(root, spec, by));
        done.push_back("renewed root.json as version " + std::to_string(v));
      }
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  PH_ASSIGN_OR_RETURN(uint64_t latest,
                      store_->LatestMetadataVersion(kRemoteSessionsRole));
  if (latest == 0) return done;
  PH_ASSIGN_OR_RETURN(std::string text,
                      store_->GetMetadata(kRemoteSessionsRole, latest));
  tuf::ErrorOr<tuf::SignedDocument> doc =
      tuf::ParseSignedDocument(text, "remote-sessions.json");
  if (!doc.ok()) return FromTuf(doc.error());
  tuf::ErrorOr<tuf::RemoteSessions> rs = tuf::ParseRemoteSessions(*doc);
  if (!rs.ok()) return FromTuf(rs.error());
  if (rs->expires - now > options_.remote_sessions_renew_before) return done;
  PH_ASSIGN_OR_RETURN(Policy served, PolicyFromMetadata(*rs));
  Result<uint64_t> v = PublishLocked(served);
  if (v.ok()) {
    done.push_back("renewed remote-sessions.json as version " +
                   std::to_string(*v));
  } else if (v.status().code() == StatusCode::kFailedPrecondition) {
    done.push_back("warning: remote-sessions.json version " +
                   std::to_string(rs->version) + " expires at " +
                   rs->expires_text +
                   " and its signing key is offline: export, sign, import");
  } else {
    return v.status();
  }
  return done;
}

Result<uint64_t> Director::RotateRoot(const RotateOptions& options) {
  if (options.remote_sessions_public_key && options.new_remote_sessions_key) {
    return Status::InvalidArgument(
        "give either a remote-sessions public key or a new online key");
  }
  std::lock_guard<std::mutex> lock(mu_);
  PH_ASSIGN_OR_RETURN(tuf::Root root, LatestRoot());
  PH_ASSIGN_OR_RETURN(std::vector<tuf::Signer> old_signers,
                      OnlineSigners(root, kRootRole));
  const tuf::RoleKeys* root_role = root.FindRole(kRootRole);
  if (!root_role || old_signers.size() < root_role->threshold) {
    return Status::FailedPrecondition(
        "the root keys are not online here; a root rotation needs them");
  }
  PH_ASSIGN_OR_RETURN(std::string text,
                      store_->GetMetadata(kRootRole, std::nullopt));
  PH_ASSIGN_OR_RETURN(tuf::Json signed_part, SignedPart(text, "root.json"));
  PH_ASSIGN_OR_RETURN(tuf::RootSpec spec, SpecOf(signed_part));
  spec.version = root.version + 1;
  spec.expires = FloorSeconds(clock_->Now() + options_.root_expiry);

  std::vector<tuf::Signer> new_signers;
  if (options.new_root_key) {
    PH_ASSIGN_OR_RETURN(tuf::Signer key, NewKey());
    spec.roles[kRootRole] = tuf::RootSpec::Role{};
    spec.AddRoleKey(kRootRole, key);
    new_signers.push_back(std::move(key));
  }
  bool rs_changed = false;
  if (options.remote_sessions_public_key) {
    tuf::ErrorOr<tuf::Json> json =
        tuf::ParseJson(*options.remote_sessions_public_key);
    if (!json.ok()) {
      return Status::InvalidArgument("public key file: " +
                                     json.error().message());
    }
    if (tuf::FindMember(*json, "keyval") &&
        tuf::FindMember((*json)["keyval"], "private")) {
      return Status::InvalidArgument(
          "public key file: holds a private key; give the .pub file");
    }
    tuf::ErrorOr<tuf::Key> key = tuf::ParseKey(*json, "public key file");
    if (!key.ok()) return Status::InvalidArgument(key.error().message());
    spec.keys[key->keyid] = *json;
    spec.roles[kRemoteSessionsRole] = tuf::RootSpec::Role{{key->keyid}, 1};
    rs_changed = true;
  } else if (options.new_remote_sessions_key) {
    PH_ASSIGN_OR_RETURN(tuf::Signer key, NewKey());
    spec.roles[kRemoteSessionsRole] = tuf::RootSpec::Role{};
    spec.AddRoleKey(kRemoteSessionsRole, key);
    rs_changed = true;
  }
  PruneKeys(&spec);
  std::vector<const tuf::Signer*> by;
  for (const tuf::Signer& s : old_signers) by.push_back(&s);
  for (const tuf::Signer& s : new_signers) by.push_back(&s);
  PH_ASSIGN_OR_RETURN(uint64_t version, StoreRoot(root, spec, by));
  if (rs_changed) {
    // Devices drop their stored remote-sessions when the role's keys change;
    // serve one signed by the new key at once when it is here.
    PH_ASSIGN_OR_RETURN(Policy draft, LoadDraft());
    Result<uint64_t> published = PublishLocked(draft);
    if (!published.ok() &&
        published.status().code() != StatusCode::kFailedPrecondition) {
      return published.status();
    }
  }
  return version;
}

}  // namespace porthole::server::director
