#include "cli/keys_ops.h"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/base/file.h"
#include "core/base/test_util.h"
#include "core/config/toml.h"
#include "core/keys/authorized_keys_file.h"
#include "core/keys/krl.h"
#include "core/keys/test_keys.h"

namespace porthole::cli {
namespace {

using keys::MakeTestKey;
using keys::Tier;
using namespace std::chrono;

const SystemTime kNow = sys_days(year(2026) / 11 / 23) + hours(9) + minutes(5);

class KeysOpsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (size_t i = 0; i < 5; ++i) {
      ctx_.config.tiers[i] =
          dir_.Join(std::string(keys::TierName(keys::kAllTiers[i])));
    }
    ctx_.config.krl = dir_.Join("revoked.krl");
    ctx_.config.login_user = "root";
    alice_ = MakeTestKey(dir_.path(), "alice", "ed25519", "alice@laptop");
    bob_ = MakeTestKey(dir_.path(), "bob", "ecdsa", "bob@desk");
    lost_ = MakeTestKey(dir_.path(), "lost", "ed25519", "lost@phone");
    auto cat = keys::Catalogue::Parse(
        "[known]\n\"repair@shop1\" = " +
            config::TomlQuote("restrict,command=\"echo ok\" " + bob_) +
            "\n[revoked]\n\"lost@phone\" = " + config::TomlQuote(lost_) + "\n",
        "test");
    ASSERT_TRUE(cat.ok()) << cat.status().message();
    ctx_.catalogue = *cat;
    ctx_.clock = &clock_;
  }

  std::string Read(keys::Tier t) {
    auto r = ReadFile(ctx_.config.tiers[static_cast<size_t>(t)], 1 << 20);
    return r.ok() ? *r : "<missing>";
  }
  void WriteTier(keys::Tier t, const std::string& text) {
    ASSERT_TRUE(
        AtomicReplace(ctx_.config.tiers[static_cast<size_t>(t)], text).ok());
  }
  KeyArg Key(const std::string& arg) {
    auto k = ResolveKeyArg(ctx_.catalogue, arg, RevokedPolicy::kAllow);
    EXPECT_TRUE(k.ok()) << k.status().message();
    return *k;
  }
  std::string Base(const std::string& line) {  // "type base64"
    return line.substr(0, line.rfind(' '));
  }

  TempDir dir_;
  FakeClock clock_{kNow};
  KeysContext ctx_;
  std::string alice_, bob_, lost_, out_;
};

TEST_F(KeysOpsTest, AddTimedGoesToTemporaryWithUtcExpiry) {
  ASSERT_TRUE(KeysAdd(ctx_, Key(alice_), "1h", std::nullopt, &out_).ok());
  EXPECT_EQ(Read(Tier::kTemporary),
            "expiry-time=\"202611231005Z\" " + alice_ + "\n");
  EXPECT_NE(out_.find("added ED25519 SHA256:"), std::string::npos) << out_;
  EXPECT_NE(
      out_.find("(alice@laptop) to temporary tier " + dir_.Join("temporary") +
                ", expires 2026-11-23 10:05 UTC"),
      std::string::npos)
      << out_;
}

TEST_F(KeysOpsTest, WarnsWhenSshdWouldIgnoreTheFile) {
  // The test directory is under /tmp, which is world-writable.
  ASSERT_TRUE(KeysAdd(ctx_, Key(alice_), "1h", std::nullopt, &out_).ok());
  ASSERT_EQ(ctx_.warnings.size(), 1u);
  EXPECT_EQ(ctx_.warnings[0],
            "sshd (StrictModes) will ignore " + dir_.Join("temporary") +
                ": bad ownership or modes for directory /tmp");
}

TEST_F(KeysOpsTest, AddForeverGoesToCustomer) {
  ASSERT_TRUE(KeysAdd(ctx_, Key(alice_), "forever", std::nullopt, &out_).ok());
  EXPECT_EQ(Read(Tier::kCustomer), alice_ + "\n");
  EXPECT_EQ(Read(Tier::kTemporary), "<missing>");
  EXPECT_EQ(
      KeysAdd(ctx_, Key(alice_), "forever", Tier::kTemporary, &out_).code(),
      StatusCode::kInvalidArgument);
}

TEST_F(KeysOpsTest, AddWithTierAndOwnOptions) {
  ASSERT_TRUE(
      KeysAdd(ctx_, Key("repair@shop1"), "2d", Tier::kFleet, &out_).ok());
  EXPECT_EQ(Read(Tier::kFleet),
            "restrict,command=\"echo ok\",expiry-time=\"202611250905Z\" " +
                bob_ + "\n");
}

TEST_F(KeysOpsTest, SameKeyIsReplacedNotDuplicated) {
  WriteTier(Tier::kTemporary,
            "# header kept  \n" + Base(bob_) + " keep me  \nnot a key line\n");
  ASSERT_TRUE(KeysAdd(ctx_, Key(alice_), "1h", std::nullopt, &out_).ok());
  clock_.Advance(hours(1));
  std::string renamed = Base(alice_) + " renamed@laptop";
  ASSERT_TRUE(KeysAdd(ctx_, Key(renamed), "1d", std::nullopt, &out_).ok());
  EXPECT_EQ(Read(Tier::kTemporary),
            "# header kept  \n" + Base(bob_) +
                " keep me  \nnot a key line\nexpiry-time=\"202611241005Z\" " +
                renamed + "\n");
  EXPECT_NE(out_.find("replaced"), std::string::npos);
}

TEST_F(KeysOpsTest, ExistingExpiryIsReplaced) {
  ASSERT_TRUE(KeysAdd(ctx_,
                      Key("expiry-time=\"203001010000Z\",no-pty " + alice_),
                      "1h", std::nullopt, &out_)
                  .ok());
  EXPECT_EQ(Read(Tier::kTemporary),
            "no-pty,expiry-time=\"202611231005Z\" " + alice_ + "\n");
}

TEST_F(KeysOpsTest, RevokedKeysAreRefusedByLineAndById) {
  auto by_line = ResolveKeyArg(ctx_.catalogue, Base(lost_) + " other-comment",
                               RevokedPolicy::kRefuse);
  EXPECT_EQ(by_line.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(by_line.status().message().find("is revoked (catalogue ID "
                                            "'lost@phone')"),
            std::string::npos);
  auto by_id =
      ResolveKeyArg(ctx_.catalogue, "lost@phone", RevokedPolicy::kRefuse);
  EXPECT_EQ(by_id.status().message(),
            "'lost@phone' is revoked in the catalogue");
}

TEST_F(KeysOpsTest, ResolveKeyArgForms) {
  auto file = ResolveKeyArg(ctx_.catalogue, dir_.Join("alice.pub"),
                            RevokedPolicy::kRefuse);
  ASSERT_TRUE(file.ok()) << file.status().message();
  EXPECT_EQ(file->line.comment, "alice@laptop");
  auto id =
      ResolveKeyArg(ctx_.catalogue, "repair@shop1", RevokedPolicy::kRefuse);
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(id->id, "repair@shop1");
  auto line = ResolveKeyArg(ctx_.catalogue, Base(bob_) + " whoever",
                            RevokedPolicy::kRefuse);
  EXPECT_EQ(line->id, "repair@shop1");  // known by key material
  EXPECT_EQ(
      ResolveKeyArg(ctx_.catalogue, "nobody@nowhere", RevokedPolicy::kRefuse)
          .status()
          .message(),
      "'nobody@nowhere' is not a catalogue ID, a key file or a key line");
  auto bad = ResolveKeyArg(ctx_.catalogue, "ssh-ed25519 AAAA!!! x",
                           RevokedPolicy::kRefuse);
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message().rfind("key: ", 0), 0u)
      << bad.status().message();
}

TEST_F(KeysOpsTest, SetReplacesWholeTierKeepingComments) {
  WriteTier(Tier::kFleet, "# fleet hubs\n" + alice_ + "\nbroken\n");
  ASSERT_TRUE(KeysSet(ctx_, Tier::kFleet, {Key(bob_), Key(bob_)}, &out_).ok());
  EXPECT_EQ(Read(Tier::kFleet), "# fleet hubs\n" + bob_ + "\n");
  EXPECT_EQ(out_,
            "set fleet tier " + dir_.Join("fleet") + ": 1 key (replacing 2)\n");
  EXPECT_EQ(KeysSet(ctx_, Tier::kTemporary, {Key(bob_)}, &out_).code(),
            StatusCode::kInvalidArgument);
}

TEST_F(KeysOpsTest, RemoveMatchesKeyMaterialAcrossTiers) {
  WriteTier(Tier::kRoot, alice_ + "\n" + bob_ + "\n");
  WriteTier(Tier::kTemporary,
            "expiry-time=\"209901010000Z\" " + Base(alice_) + " other\n");
  ASSERT_TRUE(KeysRemove(ctx_, Key(Base(alice_)), &out_).ok());
  EXPECT_EQ(Read(Tier::kRoot), bob_ + "\n");
  EXPECT_EQ(Read(Tier::kTemporary), "");
  Status again = KeysRemove(ctx_, Key(alice_), &out_);
  EXPECT_EQ(again.code(), StatusCode::kNotFound);
  EXPECT_NE(again.message().find("is not in any tier"), std::string::npos);
  EXPECT_EQ(Read(Tier::kFleet), "<missing>");  // rm never creates files
}

TEST_F(KeysOpsTest, RemoveRevokedSweepsAndWritesKrl) {
  WriteTier(Tier::kFleet, lost_ + "\n" + alice_ + "\n");
  WriteTier(Tier::kCustomer, "no-pty " + Base(lost_) + " renamed\n");
  ASSERT_TRUE(KeysRemoveRevoked(ctx_, &out_).ok());
  EXPECT_EQ(Read(Tier::kFleet), alice_ + "\n");
  EXPECT_EQ(Read(Tier::kCustomer), "");
  auto lost = keys::ParseAuthorizedKey(lost_);
  EXPECT_TRUE(*keys::KrlRevokes(ctx_.config.krl, lost->key));
  EXPECT_FALSE(*keys::KrlRevokes(ctx_.config.krl,
                                 keys::ParseAuthorizedKey(alice_)->key));
  EXPECT_NE(out_.find("KRL " + ctx_.config.krl + " revokes 1 key"),
            std::string::npos);
}

TEST_F(KeysOpsTest, ClearAndPrune) {
  WriteTier(Tier::kTemporary, "# temp\nexpiry-time=\"202611230905Z\" " +
                                  alice_ + "\nexpiry-time=\"202611230906Z\" " +
                                  bob_ + "\n");
  ASSERT_TRUE(KeysPrune(ctx_, &out_).ok());  // 09:05 is now: expired
  EXPECT_EQ(Read(Tier::kTemporary),
            "# temp\nexpiry-time=\"202611230906Z\" " + bob_ + "\n");
  ASSERT_TRUE(KeysClear(ctx_, &out_).ok());
  EXPECT_EQ(Read(Tier::kTemporary), "# temp\n");
}

TEST_F(KeysOpsTest, ListJsonHasEveryFieldAndState) {
  WriteTier(Tier::kRoot, "# c\n" + alice_ + "\n");
  WriteTier(Tier::kTemporary, "expiry-time=\"202001010000Z\" " + bob_ +
                                  "\nthis line is broken\n");
  WriteTier(Tier::kFleet, lost_ + "\n");
  ASSERT_TRUE(KeysList(ctx_, true, &out_).ok());
  auto rows = nlohmann::json::parse(out_);
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0]["tier"], "root");
  EXPECT_EQ(rows[0]["file"], dir_.Join("root"));
  EXPECT_EQ(rows[0]["line"], 2);
  EXPECT_EQ(rows[0]["type"], "ssh-ed25519");
  EXPECT_EQ(rows[0]["comment"], "alice@laptop");
  EXPECT_TRUE(rows[0]["id"].is_null());
  EXPECT_EQ(rows[0]["options"], "");
  EXPECT_TRUE(rows[0]["expiry"].is_null());
  EXPECT_EQ(rows[0]["state"], "active");
  EXPECT_EQ(rows[0]["fingerprint"].get<std::string>().rfind("SHA256:", 0), 0u);
  EXPECT_EQ(rows[1]["tier"], "fleet");
  EXPECT_EQ(rows[1]["state"], "REVOKED");
  EXPECT_EQ(rows[1]["id"], "lost@phone");
  EXPECT_EQ(rows[2]["state"], "expired");
  EXPECT_EQ(rows[2]["id"], "repair@shop1");
  EXPECT_EQ(rows[2]["expiry"], "2020-01-01T00:00:00Z");
  EXPECT_EQ(rows[2]["options"], "expiry-time=\"202001010000Z\"");
  EXPECT_EQ(rows[3]["state"], "unparseable");
  EXPECT_EQ(rows[3]["line"], 2);
  EXPECT_TRUE(rows[3]["type"].is_null());

  out_.clear();
  ASSERT_TRUE(KeysList(ctx_, false, &out_).ok());
  EXPECT_NE(out_.find("REVOKED"), std::string::npos);
  EXPECT_NE(out_.find("unparseable"), std::string::npos);
}

TEST_F(KeysOpsTest, ConcurrentAddsAllLand) {
  std::vector<std::string> lines;
  for (int i = 0; i < 20; ++i) {
    lines.push_back(MakeTestKey(dir_.path(), "k" + std::to_string(i)));
  }
  std::vector<std::thread> threads;
  std::vector<Status> results(lines.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    threads.emplace_back([&, i] {
      std::string out;
      auto k = ResolveKeyArg(ctx_.catalogue, lines[i], RevokedPolicy::kRefuse);
      results[i] =
          k.ok() ? KeysAdd(ctx_, *k, "1h", std::nullopt, &out) : k.status();
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& s : results) EXPECT_TRUE(s.ok()) << s.message();
  auto f = keys::AuthorizedKeysFile::Parse(Read(Tier::kTemporary));
  EXPECT_EQ(f.KeyCount(), 20u);
}

TEST_F(KeysOpsTest, InstallSshdConfigWritesKrlFirst) {
  std::string dropin = dir_.Join("sshd_config.d/porthole.conf");
  ASSERT_TRUE(KeysInstallSshdConfig(ctx_, dropin, &out_).ok());
  EXPECT_TRUE(PathExists(ctx_.config.krl));
  EXPECT_EQ(*ReadFile(dropin, 1 << 20), keys::SshdDropIn(ctx_.config));
}

}  // namespace
}  // namespace porthole::cli
