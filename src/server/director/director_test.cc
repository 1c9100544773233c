// The director against a real SQLite store, with everything it signs checked
// by the agent's own verifying loader (core/tuf/loader.h), rotations
// included.
#include "server/director/director.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "core/base/file.h"
#include "core/base/test_util.h"
#include "core/crypto/signature.h"
#include "core/tuf/loader.h"
#include "core/tuf/signed_document.h"
#include "core/tuf/verifier.h"

namespace porthole::server::director {
namespace {

using std::chrono::hours;
using std::chrono::seconds;

std::string TestKey(const std::string& name) {
  Result<std::string> text = ReadFile(
      std::string(PORTHOLE_SOURCE_DIR) + "/src/core/keys/testdata/" + name,
      1 << 16);
  std::string line = text.ok() ? *text : "";
  while (!line.empty() && line.back() == '\n') line.pop_back();
  return line;
}

// What a device fetches from the director, served from the store.
class StoreFetcher : public tuf::MetadataFetcher {
 public:
  explicit StoreFetcher(Store* store) : store_(store) {}
  tuf::FetchResult Fetch(const std::string& name, size_t) override {
    Result<std::string> text = Status::NotFound(name);
    if (name == "root.json") {
      text = store_->GetMetadata(kRootRole, std::nullopt);
    } else if (name == "remote-sessions.json") {
      text = store_->GetMetadata(kRemoteSessionsRole, std::nullopt);
    } else if (name.size() > 10 &&
               name.substr(name.size() - 10) == ".root.json") {
      text = store_->GetMetadata(kRootRole, std::stoull(name));
    }
    if (!text.ok()) return tuf::FetchResult::NotFound();
    return tuf::FetchResult::Found(*text);
  }

 private:
  Store* store_;
};

class DirectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::unique_ptr<Store>> store =
        OpenSqliteStore(dir_.path() + "/server.db");
    ASSERT_TRUE(store.ok()) << store.status().message();
    store_ = std::move(*store);
    director_ = std::make_unique<Director>(store_.get(), KeyDir(), &clock_,
                                           DirectorOptions());
    ASSERT_TRUE(director_->Initialize("relay.example.com", relay_key_).ok());
  }

  std::string KeyDir() const { return dir_.path() + "/director"; }

  // A device's loader with its own state directory (TOFU on first load).
  tuf::ErrorOr<tuf::VerifiedMetadata> DeviceLoad(const std::string& device) {
    std::string state = dir_.path() + "/device-" + device;
    loaders_.try_emplace(device, std::make_unique<tuf::MetadataLoader>(
                                     state, &fetcher_, &clock_));
    return loaders_[device]->Load();
  }

  TempDir dir_;
  FakeClock clock_{SystemTime(seconds(1800000000))};
  std::string relay_key_ = TestKey("ecdsa256.pub");
  std::unique_ptr<Store> store_;
  std::unique_ptr<Director> director_;
  StoreFetcher fetcher_{nullptr};
  std::map<std::string, std::unique_ptr<tuf::MetadataLoader>> loaders_;

  void UseFetcher() { fetcher_ = StoreFetcher(store_.get()); }
};

TEST_F(DirectorTest, InitializeServesWhatADeviceAccepts) {
  UseFetcher();
  auto loaded = DeviceLoad("a");
  ASSERT_TRUE(loaded.ok()) << loaded.error().message();
  EXPECT_EQ(loaded->root.version, 1u);
  EXPECT_EQ(loaded->remote_sessions.version, 1u);
  auto ssh = tuf::ParseSshPolicy(loaded->remote_sessions);
  ASSERT_TRUE(ssh.ok());
  EXPECT_EQ(ssh->ra_server_hosts,
            std::vector<std::string>{"relay.example.com"});
  ASSERT_EQ(ssh->ra_server_ssh_pubkeys.size(), 1u);
  EXPECT_EQ(ssh->ra_server_ssh_pubkeys[0].line, relay_key_);
  EXPECT_TRUE(ssh->authorized_keys.empty());
  // No remote_commands member at all (PROTOCOL.md 6.6).
  EXPECT_FALSE(loaded->remote_sessions.remote_commands.has_value());

  struct stat st;
  ASSERT_EQ(::stat(KeyDir().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  auto state = director_->State();
  ASSERT_TRUE(state.ok());
  EXPECT_TRUE(state->root_keys_online);
  EXPECT_TRUE(state->remote_sessions_keys_online);
  EXPECT_TRUE(state->draft_published);
  tuf::ErrorOr<tuf::Root> root =
      tuf::VerifyTrustedRoot(*store_->GetMetadata(kRootRole, 1), "root.json");
  ASSERT_TRUE(root.ok());
  for (const auto& [id, key] : root->keys) {
    ASSERT_EQ(::stat(director_->KeyPath(id).c_str(), &st), 0) << id;
    EXPECT_EQ(st.st_mode & 0777, 0600u);
  }

  EXPECT_EQ(director_->Initialize("x", relay_key_).code(),
            StatusCode::kAlreadyExists);
}

TEST_F(DirectorTest, EditsArePublishedAndVerified) {
  UseFetcher();
  ASSERT_TRUE(DeviceLoad("a").ok());
  std::string alice = TestKey("ed25519.pub");
  Result<uint64_t> v =
      director_->Edit([&](Policy& p) { return p.AllowKey(alice, "alice"); });
  ASSERT_TRUE(v.ok()) << v.status().message();
  EXPECT_EQ(*v, 2u);
  v = director_->Edit(
      [&](Policy& p) { return p.AllowCommand("echo", {"test"}); });
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, 3u);

  auto loaded = DeviceLoad("a");
  ASSERT_TRUE(loaded.ok()) << loaded.error().message();
  EXPECT_EQ(loaded->remote_sessions.version, 3u);
  auto ssh = tuf::ParseSshPolicy(loaded->remote_sessions);
  ASSERT_EQ(ssh->authorized_keys.size(), 1u);
  EXPECT_EQ(ssh->authorized_keys[0].line, alice);
  auto cmds = tuf::ParseCommandPolicy(loaded->remote_sessions);
  ASSERT_TRUE(cmds.ok() && cmds->has_value());
  EXPECT_TRUE((*cmds)->Allows("echo", {"test"}));

  // A failed edit changes nothing: no new version, same draft.
  v = director_->Edit([](Policy& p) { return p.AllowCommand("rm", {}); });
  EXPECT_EQ(v.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(*store_->LatestMetadataVersion(kRemoteSessionsRole), 3u);

  auto published = director_->Published();
  ASSERT_TRUE(published.ok());
  EXPECT_EQ(published->version, 3u);
  ASSERT_EQ(published->ssh.authorized_keys.size(), 1u);
}

// The served document lists keys by keyid; the draft in the order they were
// allowed. Either order of two keys is still "the draft is served".
TEST_F(DirectorTest, DraftPublishedWhateverTheKeyOrder) {
  const std::string a = TestKey("ed25519.pub"), b = TestKey("ecdsa256.pub"),
                    c = TestKey("ecdsa384.pub");
  for (const auto& order :
       {std::vector<std::string>{a, b, c}, std::vector<std::string>{c, b, a}}) {
    for (const std::string& k : order) {
      ASSERT_TRUE(
          director_->Edit([&](Policy& p) { return p.AllowKey(k, ""); }).ok());
    }
    Result<DirectorState> s = director_->State();
    ASSERT_TRUE(s.ok());
    EXPECT_TRUE(s->draft_published);
    for (const std::string& k : order) {
      ASSERT_TRUE(
          director_->Edit([&](Policy& p) { return p.DenyKey(k); }).ok());
    }
  }
}

TEST_F(DirectorTest, OfflineKeySignsOnlyThroughExportAndImport) {
  UseFetcher();
  ASSERT_TRUE(DeviceLoad("old").ok());  // trusts root v1

  // The operator's offline key; the server gets only its public half.
  tuf::Signer offline(crypto::SigningKey::GenerateEd25519());
  tuf::ErrorOr<std::string> pub = tuf::DumpJson(offline.PublicJson());
  ASSERT_TRUE(pub.ok());
  RotateOptions rotate;
  rotate.remote_sessions_public_key = *pub;
  Result<uint64_t> root_v = director_->RotateRoot(rotate);
  ASSERT_TRUE(root_v.ok()) << root_v.status().message();
  EXPECT_EQ(*root_v, 2u);

  auto state = director_->State();
  ASSERT_TRUE(state.ok());
  EXPECT_TRUE(state->root_keys_online);
  EXPECT_FALSE(state->remote_sessions_keys_online);

  // The server can no longer authorise a key on its own.
  std::string alice = TestKey("ed25519.pub");
  Result<uint64_t> v =
      director_->Edit([&](Policy& p) { return p.AllowKey(alice, "alice"); });
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, 0u);
  EXPECT_EQ(director_->Publish().status().code(),
            StatusCode::kFailedPrecondition);
  // Devices refuse what is served now (signed by the old online key).
  EXPECT_EQ(DeviceLoad("old").error().code(), tuf::ErrorCode::kThresholdNotMet);

  // Export, sign offline, import.
  Result<std::string> exported = director_->Export();
  ASSERT_TRUE(exported.ok());
  tuf::ErrorOr<tuf::SignedDocument> unsigned_doc =
      tuf::ParseSignedDocument(*exported, "export");
  ASSERT_TRUE(unsigned_doc.ok());
  EXPECT_TRUE(unsigned_doc->signatures.empty());
  tuf::ErrorOr<std::string> signed_text =
      tuf::SignMetadataText(unsigned_doc->signed_value, {&offline});
  ASSERT_TRUE(signed_text.ok());
  Result<uint64_t> imported = director_->Import(*signed_text);
  ASSERT_TRUE(imported.ok()) << imported.status().message();
  EXPECT_EQ(*imported, 2u);
  EXPECT_TRUE(director_->State()->draft_published);

  // A device that trusted root v1 follows the rotation and accepts it.
  auto loaded = DeviceLoad("old");
  ASSERT_TRUE(loaded.ok()) << loaded.error().message();
  EXPECT_EQ(loaded->root.version, 2u);
  EXPECT_EQ(loaded->remote_sessions.version, 2u);
  ASSERT_TRUE(DeviceLoad("new").ok());

  // Replaying it, or a document signed by a key the root does not list,
  // is refused.
  EXPECT_EQ(director_->Import(*signed_text).status().code(),
            StatusCode::kFailedPrecondition);
  Result<std::string> next = director_->Export();
  ASSERT_TRUE(next.ok());
  auto next_doc = tuf::ParseSignedDocument(*next, "export");
  tuf::Signer rogue(crypto::SigningKey::GenerateEd25519());
  tuf::ErrorOr<std::string> rogue_text =
      tuf::SignMetadataText(next_doc->signed_value, {&rogue});
  Result<uint64_t> refused = director_->Import(*rogue_text);
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("threshold"), std::string::npos)
      << refused.status().message();
  EXPECT_EQ(director_->Import("not json").status().code(),
            StatusCode::kInvalidArgument);
  // The server cannot import its own unsigned export either.
  EXPECT_EQ(director_->Import(*next).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(*store_->LatestMetadataVersion(kRemoteSessionsRole), 2u);
}

TEST_F(DirectorTest, RotatingTheRootKeyKeepsDevicesFollowing) {
  UseFetcher();
  ASSERT_TRUE(DeviceLoad("a").ok());
  RotateOptions rotate;
  rotate.new_root_key = true;
  ASSERT_TRUE(director_->RotateRoot(rotate).ok());
  rotate.new_root_key = false;
  rotate.new_remote_sessions_key = true;
  ASSERT_TRUE(director_->RotateRoot(rotate).ok());
  auto loaded = DeviceLoad("a");
  ASSERT_TRUE(loaded.ok()) << loaded.error().message();
  EXPECT_EQ(loaded->root.version, 3u);
  // The new online remote-sessions key signed a new document at once.
  EXPECT_EQ(loaded->remote_sessions.version, 2u);
  EXPECT_TRUE(director_->State()->remote_sessions_keys_online);
}

TEST_F(DirectorTest, RenewsBeforeExpiry) {
  UseFetcher();
  ASSERT_TRUE(DeviceLoad("a").ok());
  Result<std::vector<std::string>> done = director_->RenewIfDue();
  ASSERT_TRUE(done.ok());
  EXPECT_TRUE(done->empty());
  // 24 days on: remote-sessions (30 d, renewed 7 d before) is due.
  clock_.Advance(hours(24 * 24));
  done = director_->RenewIfDue();
  ASSERT_TRUE(done.ok());
  ASSERT_EQ(done->size(), 1u);
  EXPECT_EQ((*done)[0], "renewed remote-sessions.json as version 2");
  // 340 days on: the root (365 d, renewed 30 d before) is due too.
  clock_.Advance(hours(24 * 316));
  done = director_->RenewIfDue();
  ASSERT_TRUE(done.ok());
  ASSERT_EQ(done->size(), 2u);
  EXPECT_EQ((*done)[0], "renewed root.json as version 2");
  auto loaded = DeviceLoad("a");
  ASSERT_TRUE(loaded.ok()) << loaded.error().message();
  EXPECT_EQ(loaded->root.version, 2u);
  EXPECT_EQ(loaded->remote_sessions.version, 3u);
}

TEST_F(DirectorTest, RotateRefusesAPrivateKeyFile) {
  tuf::Signer key(crypto::SigningKey::GenerateEd25519());
  RotateOptions rotate;
  rotate.remote_sessions_public_key = *key.ToKeyFile();
  Result<uint64_t> r = director_->RotateRoot(rotate);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("private"), std::string::npos);
  rotate.remote_sessions_public_key = "{}";
  EXPECT_EQ(director_->RotateRoot(rotate).status().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace porthole::server::director
