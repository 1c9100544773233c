#include "agent/session_validity.h"

#include <gtest/gtest.h>

#include "core/base/test_util.h"
#include "core/keys/test_keys.h"

namespace porthole::agent {
namespace {

class SessionValidityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    alice_ = keys::MakeTestKey(dir_.path(), "alice", "ed25519", "alice@laptop");
    bob_ = keys::MakeTestKey(dir_.path(), "bob", "ed25519", "bob");
    relay_ = keys::MakeTestKey(dir_.path(), "relay", "ed25519", "relay");
    relay2_ = keys::MakeTestKey(dir_.path(), "relay2", "ecdsa", "relay2");
    base_.authorized_pubkeys = {alice_, bob_};
    base_.reverse_port = 41022;
    base_.ra_server_url =
        "ssh://6F1C0B8E-2A47-4B3E-9D0C-3F3B1C2D4E5F@Relay.Example:2222";
    base_.ra_server_ssh_pubkey = relay_;
  }
  std::string Recomment(const std::string& line, const std::string& c) {
    return line.substr(0, line.rfind(' ')) + " " + c;
  }

  TempDir dir_;
  std::string alice_, bob_, relay_, relay2_;
  tuf::DeviceSession base_;
};

TEST_F(SessionValidityTest, PlanNormalisesTheUuidUserAndSplitsTheUrl) {
  auto plan = PlanSession(base_);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  EXPECT_EQ(plan->relay_user, "6f1c0b8e-2a47-4b3e-9d0c-3f3b1c2d4e5f");
  EXPECT_EQ(plan->relay_host, "Relay.Example");
  EXPECT_EQ(plan->relay_port, 2222);
  EXPECT_EQ(plan->operator_keys.size(), 2u);
}

TEST_F(SessionValidityTest, PlanAcceptsIpv6DefaultPortAndALoginName) {
  base_.ra_server_url = "ssh://phrelay@[::1]";
  auto plan = PlanSession(base_);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  EXPECT_EQ(plan->relay_user, "phrelay");
  EXPECT_EQ(plan->relay_host, "::1");
  EXPECT_EQ(plan->relay_port, 22);
}

TEST_F(SessionValidityTest, PlanErrorsNameTheField) {
  struct Case {
    void (*edit)(tuf::DeviceSession&);
    const char* prefix;
  } cases[] = {
      {[](tuf::DeviceSession& s) { s.ra_server_url = "http://x/"; },
       "ra_server_url: "},
      {[](tuf::DeviceSession& s) { s.ra_server_url = "ssh://a;b@x:22"; },
       "ra_server_url: the user must be"},
      {[](tuf::DeviceSession& s) { s.ra_server_url = "ssh://-oProxy@x:22"; },
       "ra_server_url: the user must be"},
      {[](tuf::DeviceSession& s) { s.authorized_pubkeys.push_back("junk"); },
       "authorized_pubkeys[2]: "},
      {[](tuf::DeviceSession& s) { s.ra_server_ssh_pubkey = "ssh-ed25519"; },
       "ra_server_ssh_pubkey: "},
  };
  for (const Case& c : cases) {
    tuf::DeviceSession s = base_;
    c.edit(s);
    auto plan = PlanSession(s);
    ASSERT_FALSE(plan.ok());
    EXPECT_EQ(plan.status().message().rfind(c.prefix, 0), 0u)
        << plan.status().message();
  }
}

TEST_F(SessionValidityTest, CompareFindsEachChangeInRacOrder) {
  auto plan = PlanSession(base_).value();
  struct Case {
    std::function<void(tuf::DeviceSession&)> edit;
    Change want;
  } cases[] = {
      {[](tuf::DeviceSession&) {}, Change::kNone},
      // Key order, duplicates and comments do not matter (RAC bug 16).
      {[&](tuf::DeviceSession& s) {
         s.authorized_pubkeys = {Recomment(bob_, "new comment"), alice_,
                                 alice_};
       },
       Change::kNone},
      {[&](tuf::DeviceSession& s) { s.authorized_pubkeys = {alice_}; },
       Change::kKeysChanged},
      {[&](tuf::DeviceSession& s) { s.authorized_pubkeys = {alice_, relay_}; },
       Change::kKeysChanged},
      {[](tuf::DeviceSession& s) { s.authorized_pubkeys = {}; },
       Change::kKeysChanged},
      {[](tuf::DeviceSession& s) { s.reverse_port = 41023; },
       Change::kReversePortChanged},
      // Host case does not matter; port and user do.
      {[](tuf::DeviceSession& s) {
         s.ra_server_url =
             "ssh://6f1c0b8e-2a47-4b3e-9d0c-3f3b1c2d4e5f@relay.example:2222";
       },
       Change::kNone},
      {[](tuf::DeviceSession& s) {
         s.ra_server_url =
             "ssh://6f1c0b8e-2a47-4b3e-9d0c-3f3b1c2d4e5f@relay.example:2223";
       },
       Change::kUrlChanged},
      {[](tuf::DeviceSession& s) {
         s.ra_server_url =
             "ssh://7f1c0b8e-2a47-4b3e-9d0c-3f3b1c2d4e5f@relay.example:2222";
       },
       Change::kUrlChanged},
      {[&](tuf::DeviceSession& s) {
         s.ra_server_ssh_pubkey = Recomment(relay_, "other comment");
       },
       Change::kNone},
      {[&](tuf::DeviceSession& s) { s.ra_server_ssh_pubkey = relay2_; },
       Change::kRelayKeyChanged},
      // Keys are checked first, as RAC does.
      {[&](tuf::DeviceSession& s) {
         s.authorized_pubkeys = {alice_};
         s.reverse_port = 1;
       },
       Change::kKeysChanged},
  };
  for (size_t i = 0; i < std::size(cases); ++i) {
    tuf::DeviceSession s = base_;
    cases[i].edit(s);
    EXPECT_EQ(CompareSession(plan, s), cases[i].want)
        << "case " << i << ": " << ChangeName(CompareSession(plan, s));
  }
}

TEST_F(SessionValidityTest, ExpiredAtTheInstant) {
  base_.expires_at = SystemTime(std::chrono::seconds(1000));
  EXPECT_FALSE(Expired(base_, SystemTime(std::chrono::seconds(999))));
  EXPECT_TRUE(Expired(base_, SystemTime(std::chrono::seconds(1000))));
}

}  // namespace
}  // namespace porthole::agent
