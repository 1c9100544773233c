#include "core/keys/keys_config.h"

#include <gtest/gtest.h>

namespace porthole::keys {
namespace {

TEST(KeysConfigTest, DefaultsFromKeysMd) {
  KeysConfig c;
  EXPECT_EQ(c.login_user, "porthole");
  EXPECT_EQ(c.TierSetting(Tier::kRoot),
            "/etc/porthole/ssh/root_authorized_keys");
  EXPECT_EQ(c.TierSetting(Tier::kFleet),
            "/etc/porthole/ssh/fleet_authorized_keys");
  EXPECT_EQ(c.TierSetting(Tier::kTemporary),
            "/etc/porthole/ssh/tmp_authorized_keys");
  EXPECT_EQ(c.TierSetting(Tier::kCustomer), "~/.ssh/authorized_keys");
  EXPECT_EQ(c.krl, "/etc/porthole/ssh/revoked_keys.krl");
}

TEST(KeysConfigTest, ParsesEveryKey) {
  auto c = KeysConfig::Parse(
      "[keys]\nlogin_user = \"jaia\"\nroot = \"/r\"\nfleet = \"/f\"\n"
      "temporary = \"/t\"\ncustomer = \"/c\"\nsession = \"/s\"\n"
      "krl = \"/k\"\ncatalogue = \"/cat\"\n",
      "k.toml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->login_user, "jaia");
  EXPECT_EQ(*c->TierPath(Tier::kCustomer), "/c");
  EXPECT_EQ(*c->TierPath(Tier::kSession), "/s");
  EXPECT_EQ(c->krl, "/k");
  EXPECT_EQ(c->catalogue, "/cat");
}

TEST(KeysConfigTest, Errors) {
  struct Case {
    const char* text;
    const char* error;
  } cases[] = {
      {"[keys]\nrot = \"/r\"\n", "k.toml:2: key 'keys.rot': unknown key"},
      {"[keys]\nroot = \"relative\"\n",
       "k.toml:2: key 'keys.root': must be an absolute path or start with ~/"},
      {"[keys]\nroot = 3\n", "k.toml:2: key 'keys.root': expected a string"},
      {"[keys]\nlogin_user = \"a b\"\n",
       "k.toml:2: key 'keys.login_user': not a valid user name"},
      {"[key]\nroot = \"/r\"\n", "k.toml:1: key 'key': unknown key"},
      {"[keys]\nkrl = \"~/x\"\n",
       "k.toml: key 'keys.krl': must be an absolute path"},
  };
  for (const auto& c : cases) {
    auto r = KeysConfig::Parse(c.text, "k.toml");
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_EQ(r.status().message(), c.error);
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  }
}

TEST(KeysConfigTest, CustomerTierIsInLoginUsersHome) {
  KeysConfig c;
  c.login_user = "root";
  EXPECT_EQ(*c.TierPath(Tier::kCustomer), "/root/.ssh/authorized_keys");
  c.login_user = "no-such-user-porthole";
  EXPECT_EQ(c.TierPath(Tier::kCustomer).status().code(), StatusCode::kNotFound);
}

TEST(KeysConfigTest, MissingFileIsDefaultsOnlyWhenAllowed) {
  EXPECT_TRUE(KeysConfig::Load("/nonexistent/keys.toml", true).ok());
  EXPECT_EQ(KeysConfig::Load("/nonexistent/keys.toml", false).status().code(),
            StatusCode::kNotFound);
}

TEST(KeysConfigTest, TierNames) {
  for (Tier t : kAllTiers) EXPECT_EQ(*ParseTier(TierName(t)), t);
  EXPECT_EQ(*ParseTier("tmp"), Tier::kTemporary);
  EXPECT_EQ(ParseTier("admin").status().message(),
            "unknown tier 'admin' (root, fleet, temporary, customer, session)");
}

TEST(KeysConfigTest, DropIn) {
  KeysConfig c;
  c.source = "/etc/porthole/keys.toml";
  c.tiers[1] = "/etc/porthole/ssh dir/fleet";
  EXPECT_EQ(SshdDropIn(c),
            "# Written by `porthole keys install-sshd-config` from "
            "/etc/porthole/keys.toml.\n"
            "# Every key tier is read for the login user; revoked keys are "
            "refused\n"
            "# through the KRL even if a line of them remains somewhere.\n"
            "RevokedKeys /etc/porthole/ssh/revoked_keys.krl\n"
            "Match User porthole\n"
            "    AuthorizedKeysFile /etc/porthole/ssh/root_authorized_keys "
            "\"/etc/porthole/ssh dir/fleet\" "
            "/etc/porthole/ssh/tmp_authorized_keys %h/.ssh/authorized_keys "
            "/etc/porthole/ssh/session_authorized_keys\n");
}

}  // namespace
}  // namespace porthole::keys
