#include "server/director/policy.h"

#include <gtest/gtest.h>

#include "core/base/file.h"
#include "core/keys/public_key.h"
#include "core/tuf/json.h"
#include "core/tuf/remote_sessions.h"
#include "core/tuf/signed_document.h"

namespace porthole::server::director {
namespace {

std::string Key(const std::string& name) {
  Result<std::string> text = ReadFile(
      std::string(PORTHOLE_SOURCE_DIR) + "/src/core/keys/testdata/" + name,
      1 << 16);
  EXPECT_TRUE(text.ok()) << name;
  std::string line = text.ok() ? *text : "";
  while (!line.empty() && line.back() == '\n') line.pop_back();
  return line;
}

std::string Fingerprint(const std::string& line) {
  return keys::ParsePublicKeyLine(line)->Fingerprint();
}

TEST(PolicyTest, AllowKeyReplacesTheSameKeyMaterial) {
  Policy p;
  std::string ed = Key("ed25519.pub");
  ASSERT_TRUE(p.AllowKey(ed, "alice").ok());
  ASSERT_TRUE(p.AllowKey(Key("ecdsa256.pub"), "bob").ok());
  // Same key, other comment and name: replaced in place, not duplicated.
  std::string renamed = ed.substr(0, ed.rfind(' ')) + " alice@laptop";
  ASSERT_TRUE(p.AllowKey(renamed + "  \n", "alice2").ok());
  ASSERT_EQ(p.authorized_keys.size(), 2u);
  EXPECT_EQ(p.authorized_keys[0].line, renamed);
  EXPECT_EQ(p.authorized_keys[0].name, "alice2");
}

TEST(PolicyTest, AllowKeyRefusesBadInput) {
  Policy p;
  struct Case {
    std::string line, name, want;
  } cases[] = {
      {"ssh-ed25519 AAAA", "", "truncated key blob"},
      {"nonsense", "", "unknown key type"},
      {Key("ed25519-cert.pub"), "", "certificates are not allowed"},
      {Key("ed25519.pub"), std::string(65, 'n'), "longer than 64 bytes"},
      {Key("ed25519.pub"), "a\"b", "quotes"},
      {Key("ed25519.pub"), "a\nb", "control characters"},
  };
  for (const Case& c : cases) {
    Status s = p.AllowKey(c.line, c.name);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << c.line;
    EXPECT_NE(s.message().find(c.want), std::string::npos) << s.message();
  }
  EXPECT_TRUE(p.authorized_keys.empty());
}

TEST(PolicyTest, DenyKeyByLineFingerprintOrName) {
  std::string ed = Key("ed25519.pub"), ec = Key("ecdsa256.pub"),
              rsa = Key("rsa2048.pub");
  Policy p;
  ASSERT_TRUE(p.AllowKey(ed, "alice").ok());
  ASSERT_TRUE(p.AllowKey(ec, "bob").ok());
  ASSERT_TRUE(p.AllowKey(rsa, "bob").ok());

  EXPECT_EQ(p.DenyKey("bob").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(p.DenyKey("nobody").code(), StatusCode::kNotFound);
  ASSERT_TRUE(p.DenyKey(Fingerprint(rsa)).ok());
  // A line with another comment still names the key by its material.
  ASSERT_TRUE(p.DenyKey(ed.substr(0, ed.rfind(' ')) + " other").ok());
  ASSERT_TRUE(p.DenyKey("bob").ok());
  EXPECT_TRUE(p.authorized_keys.empty());
}

TEST(PolicyTest, Commands) {
  Policy p;
  EXPECT_FALSE(p.commands.has_value());
  Status s = p.AllowCommand("rm", {"-rf"});
  EXPECT_EQ(s.message(),
            "command 'rm': devices know only reboot, restart-service and echo");
  ASSERT_TRUE(p.AllowCommand("echo", {"a", "b", "a"}).ok());
  EXPECT_EQ((*p.commands)["echo"], (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(p.AllowCommand("echo", {""}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(p.AllowCommand("echo", {"a\tb"}).code(),
            StatusCode::kInvalidArgument);
  ASSERT_TRUE(p.DenyCommand("echo").ok());
  EXPECT_EQ(p.DenyCommand("echo").code(), StatusCode::kNotFound);
  // An emptied list stays: devices then reject every command.
  ASSERT_TRUE(p.commands.has_value());
  EXPECT_TRUE(p.commands->empty());
}

TEST(PolicyTest, RelayHostsAndKeys) {
  Policy p;
  ASSERT_TRUE(p.AllowRelayHost("relay.example.com").ok());
  ASSERT_TRUE(p.AllowRelayHost("relay.example.com").ok());
  ASSERT_TRUE(p.AllowRelayHost("[::1]").ok());
  EXPECT_EQ(p.relay_hosts.size(), 2u);
  EXPECT_EQ(p.AllowRelayHost("a b").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(p.AllowRelayHost("").code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(p.DenyRelayHost("[::1]").ok());
  EXPECT_EQ(p.DenyRelayHost("[::1]").code(), StatusCode::kNotFound);

  std::string ed = Key("ed25519.pub");
  ASSERT_TRUE(p.AllowRelayKey(ed).ok());
  ASSERT_TRUE(p.AllowRelayKey(ed).ok());
  EXPECT_EQ(p.relay_keys.size(), 1u);
  ASSERT_TRUE(p.DenyRelayKey(Fingerprint(ed)).ok());
  EXPECT_TRUE(p.relay_keys.empty());
}

TEST(PolicyTest, JsonRoundTrip) {
  Policy p;
  ASSERT_TRUE(p.AllowKey(Key("ed25519.pub"), "alice").ok());
  ASSERT_TRUE(p.AllowKey(Key("sk-ed25519.pub"), "").ok());
  ASSERT_TRUE(p.AllowRelayHost("relay.example.com").ok());
  ASSERT_TRUE(p.AllowRelayKey(Key("ecdsa256.pub")).ok());
  ASSERT_TRUE(p.AllowCommand("restart-service", {"aktualizr"}).ok());
  std::string text = FormatPolicy(p);
  Result<Policy> back = ParsePolicy(text, "draft");
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(FormatPolicy(*back), text);

  Policy none;
  Result<Policy> empty = ParsePolicy(FormatPolicy(none), "draft");
  ASSERT_TRUE(empty.ok());
  EXPECT_FALSE(empty->commands.has_value());
}

TEST(PolicyTest, ParseRefusesHostileInput) {
  struct Case {
    std::string json, want;
  } cases[] = {
      {"", "draft: parse error at line 1"},
      {"[]", "draft: not a JSON object"},
      {R"({"extra": 1})", "draft: unknown member 'extra'"},
      {R"({"authorized_keys": {}})", "draft: authorized_keys must be an array"},
      {R"({"authorized_keys": [1]})",
       "draft: authorized_keys entries must be objects"},
      {R"({"authorized_keys": [{"name": "x"}]})",
       "draft: authorized_keys entry without a string pubkey"},
      {R"({"authorized_keys": [{"pubkey": "ssh-ed25519 AAAA", "x": 1}]})",
       "draft: authorized_keys entry: unknown member 'x'"},
      {R"({"ra_server_hosts": [1]})",
       "draft: ra_server_hosts entries must be strings"},
      {R"({"ra_server_ssh_pubkeys": ["junk"]})", "draft: key 'junk...'"},
      {R"({"allowed_commands": {"rm": []}})", "draft: command 'rm'"},
      {R"({"allowed_commands": {"echo": "x"}})",
       "draft: allowed_commands.echo must be an array"},
      {R"({"a": 1, "a": 2})", "draft: "},
  };
  for (const Case& c : cases) {
    Result<Policy> p = ParsePolicy(c.json, "draft");
    ASSERT_FALSE(p.ok()) << c.json;
    EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(p.status().message().rfind(c.want, 0), 0u)
        << c.json << " -> " << p.status().message();
  }
}

TEST(PolicyTest, SpecAndMetadataAgree) {
  Policy p;
  std::string ed = Key("ed25519.pub");
  ASSERT_TRUE(p.AllowKey(ed, "alice").ok());
  ASSERT_TRUE(p.AllowRelayHost("relay.example.com").ok());
  ASSERT_TRUE(p.AllowRelayKey(Key("ecdsa256.pub")).ok());
  ASSERT_TRUE(p.AllowCommand("echo", {"test"}).ok());
  tuf::ErrorOr<tuf::Json> doc =
      tuf::BuildRemoteSessions(p.ToSpec(7, SystemTime{}));
  ASSERT_TRUE(doc.ok());
  // Keyed by the blob's SHA-256 (PROTOCOL.md 6.5) with the name as meta.
  std::string id = keys::ParsePublicKeyLine(ed)->BlobSha256Hex();
  const tuf::Json& entry =
      (*doc)["remote_sessions"]["ssh"]["authorized_keys"][id];
  EXPECT_EQ(entry["pubkey"], ed);
  EXPECT_EQ(entry["meta"]["name"], "alice");

  tuf::SignedDocument signed_doc;
  signed_doc.name = "remote-sessions.json";
  signed_doc.signed_value = *doc;
  tuf::ErrorOr<tuf::RemoteSessions> rs = tuf::ParseRemoteSessions(signed_doc);
  ASSERT_TRUE(rs.ok()) << rs.error().message();
  Result<Policy> back = PolicyFromMetadata(*rs);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(FormatPolicy(*back), FormatPolicy(p));
}

}  // namespace
}  // namespace porthole::server::director
