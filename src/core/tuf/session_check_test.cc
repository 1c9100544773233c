#include "core/tuf/session_check.h"

#include <gtest/gtest.h>

#include "core/tuf/test_fixtures.h"
#include "core/tuf/verifier.h"

namespace porthole::tuf {
namespace {

using fixtures::ReadRac;

// Keys from RAC's remote-sessions.json.
constexpr char kAllowedClient[] =
    "ssh-ed25519 "
    "AAAAC3NzaC1lZDI1NTE5AAAAIOfgyvDfxMI1lfrHBWZSEnIX8isPMdg8CZLNKB7W4rj/";
constexpr char kAllowedClient2[] =
    "ssh-ed25519 "
    "AAAAC3NzaC1lZDI1NTE5AAAAIAVm7kYbd583OSvRGwLmiHdfRQXpg/6nYqx7us15OA9C";
constexpr char kRelayKey[] =
    "ssh-ed25519 "
    "AAAAC3NzaC1lZDI1NTE5AAAAIMSQy6JGnIxrVMsi4xi2Goq48Dy1ilQ8wvaurQU3TSQe";
// Not in the metadata (the RFC 8032 test 2 public key as an SSH key).
constexpr char kOtherKey[] =
    "ssh-ed25519 "
    "AAAAC3NzaC1lZDI1NTE5AAAAID1AF8PoQ4lakrcKp00bfrycmCzPLsSWjMDNVfEq9GYM";

SshPolicy RacPolicy() {
  Root root = VerifyTrustedRoot(ReadRac("root-rsa.json"), "root.json").value();
  RemoteSessions rs =
      VerifyRemoteSessions(root, ReadRac("remote-sessions.json"),
                           fixtures::VectorNow())
          .value();
  return ParseSshPolicy(rs).value();
}

DeviceSession Session(std::vector<std::string> keys, std::string url,
                      std::string relay_key) {
  DeviceSession s;
  s.authorized_pubkeys = std::move(keys);
  s.reverse_port = 41022;
  s.ra_server_url = std::move(url);
  s.ra_server_ssh_pubkey = std::move(relay_key);
  return s;
}

constexpr char kUrl[] =
    "ssh://6f1c0b8e-2a47-4b3e-9d0c-3f3b1c2d4e5f@ras.dev.torizon.io:2222";

TEST(CheckSessionTest, Table) {
  const SshPolicy policy = RacPolicy();
  const std::string other_fp =
      keys::ParsePublicKeyLine(kOtherKey)->Fingerprint();
  struct Case {
    const char* name;
    DeviceSession session;
    std::vector<std::string> reasons;
  };
  const Case kCases[] = {
      {"Valid",
       Session({kAllowedClient, kAllowedClient2}, kUrl, kRelayKey),
       {}},
      {"CommentsIgnored",
       Session({std::string(kAllowedClient) + " alice@laptop"}, kUrl,
               std::string(kRelayKey) + " some other comment"),
       {}},
      {"NoClientKeys", Session({}, kUrl, kRelayKey), {}},
      {"HostCaseInsensitive",
       Session({kAllowedClient}, "ssh://u@RAS.Dev.Torizon.IO:2222", kRelayKey),
       {}},
      {"DefaultPort",
       Session({kAllowedClient}, "ssh://u@localhost", kRelayKey),
       {}},
      {"UnknownClientKey",
       Session({kAllowedClient, kOtherKey}, kUrl, kRelayKey),
       {"metadata does not allow client key ssh-ed25519 " + other_fp}},
      {"UnknownHost",
       Session({kAllowedClient}, "ssh://u@evil.example.com:22", kRelayKey),
       {"metadata does not allow relay host 'evil.example.com'"}},
      {"UnknownRelayKey",
       Session({kAllowedClient}, kUrl, kOtherKey),
       {"metadata does not allow server key ssh-ed25519 " + other_fp}},
      {"AllReasonsCollected",
       Session({"garbage", kOtherKey}, "http://x", "ssh-rsa"),
       {"client key 0 does not parse: unknown key type 'garbage'",
        "metadata does not allow client key ssh-ed25519 " + other_fp,
        "ra_server_url 'http://x': scheme is not ssh://",
        "ra_server_ssh_pubkey does not parse: missing key data after "
        "type"}},
  };
  for (const Case& c : kCases) {
    EXPECT_EQ(CheckSession(policy, c.session), c.reasons) << c.name;
  }
}

TEST(RaServerUrlTest, Table) {
  struct Case {
    const char* url;
    bool ok;
    std::string user, host;
    uint16_t port;
  };
  const Case kCases[] = {
      {"ssh://uuid@ras.torizon.io:2222", true, "uuid", "ras.torizon.io", 2222},
      {"SSH://uuid@host:22/", true, "uuid", "host", 22},
      {"ssh://host", true, "", "host", 22},
      {"ssh://u@0.0.0.0:40000", true, "u", "0.0.0.0", 40000},
      {"ssh://u@[::1]:2222", true, "u", "[::1]", 2222},
      {"ssh://u@[fe80::1]", true, "u", "[fe80::1]", 22},
      {"ssh://u@:22", false, "", "", 0},
      {"ssh://u@host:", false, "", "", 0},
      {"ssh://u@host:0", false, "", "", 0},
      {"ssh://u@host:65536", false, "", "", 0},
      {"ssh://u@host:22x", false, "", "", 0},
      {"ssh://u@host/path", false, "", "", 0},
      {"ssh://u@host?q", false, "", "", 0},
      {"ssh://u@[::1", false, "", "", 0},
      {"ssh://u@[]:22", false, "", "", 0},
      {"ssh://u@ho st", false, "", "", 0},
      {"https://host", false, "", "", 0},
      {"", false, "", "", 0},
  };
  for (const Case& c : kCases) {
    Result<RelayAddress> r = ParseRaServerUrl(c.url);
    EXPECT_EQ(r.ok(), c.ok) << c.url;
    if (r.ok() && c.ok) {
      EXPECT_EQ(r->user, c.user) << c.url;
      EXPECT_EQ(r->host, c.host) << c.url;
      EXPECT_EQ(r->port, c.port) << c.url;
    }
  }
}

TEST(CheckSessionTest, Ipv6HostsMatchWithOrWithoutBrackets) {
  SshPolicy policy = RacPolicy();
  policy.ra_server_hosts = {"::1", "[FE80::1]"};
  EXPECT_TRUE(
      CheckSession(policy, Session({}, "ssh://u@[::1]:22", kRelayKey)).empty());
  EXPECT_TRUE(
      CheckSession(policy, Session({}, "ssh://u@[fe80::1]:22", kRelayKey))
          .empty());
}

TEST(DeviceSessionTest, ParsesRacExample) {
  std::string json = std::string(R"({"ssh":{"authorized_pubkeys":[")") +
                     kAllowedClient + R"( alice@laptop"],
        "reverse_port":41022,
        "ra_server_url":")" +
                     kUrl + R"(",
        "ra_server_ssh_pubkey":")" +
                     kRelayKey + R"(",
        "expires_at":"2025-07-30T18:00:00+01:00","extra":1},"more":[]})";
  ErrorOr<DeviceSession> s = ParseDeviceSession(json);
  ASSERT_TRUE(s.ok()) << s.error().message();
  EXPECT_EQ(s->authorized_pubkeys.size(), 1u);
  EXPECT_EQ(s->reverse_port, 41022);
  EXPECT_EQ(s->ra_server_url, kUrl);
  EXPECT_EQ(s->expires_at, fixtures::Time("2025-07-30T17:00:00Z"));
  EXPECT_TRUE(CheckSession(RacPolicy(), *s).empty());
}

TEST(DeviceSessionTest, Errors) {
  struct Case {
    std::string json;
    ErrorCode code;
    std::string message;
  };
  const std::string base =
      R"("authorized_pubkeys":[],"ra_server_url":"ssh://h",)"
      R"("ra_server_ssh_pubkey":"k","expires_at":"2025-07-30T18:00:00Z")";
  const Case kCases[] = {
      {"nope", ErrorCode::kNotJson, ""},
      {"[]", ErrorCode::kMalformed, "session: not a JSON object"},
      {"{}", ErrorCode::kMalformed, "session: missing member 'ssh'"},
      {"{\"ssh\":{" + base + "}}", ErrorCode::kMalformed,
       "session ssh: missing member 'reverse_port'"},
      {"{\"ssh\":{" + base + ",\"reverse_port\":65536}}", ErrorCode::kMalformed,
       "session ssh: reverse_port out of range"},
      {"{\"ssh\":{" + base + ",\"reverse_port\":-1}}", ErrorCode::kMalformed,
       "session ssh: member 'reverse_port' must be an integer >= 0"},
      {"{\"ssh\":{" + base + ",\"reverse_port\":1.5}}", ErrorCode::kMalformed,
       "session ssh: member 'reverse_port' must be an integer >= 0"},
      {R"({"ssh":{"authorized_pubkeys":[1],"reverse_port":1}})",
       ErrorCode::kMalformed,
       "session ssh: member 'authorized_pubkeys' must be an array of "
       "strings"},
  };
  for (const Case& c : kCases) {
    ErrorOr<DeviceSession> s = ParseDeviceSession(c.json);
    ASSERT_FALSE(s.ok()) << c.json;
    EXPECT_EQ(s.error().code(), c.code) << c.json;
    if (!c.message.empty()) {
      EXPECT_EQ(s.error().message(), c.message);
    }
  }
  ErrorOr<DeviceSession> bad_time = ParseDeviceSession(
      R"({"ssh":{"authorized_pubkeys":[],"reverse_port":1,"ra_server_url":"",)"
      R"("ra_server_ssh_pubkey":"","expires_at":"tomorrow"}})");
  ASSERT_FALSE(bad_time.ok());
  EXPECT_EQ(bad_time.error().message(),
            "session ssh: expires_at: not an RFC 3339 timestamp: 'tomorrow'");
}

}  // namespace
}  // namespace porthole::tuf
