#include "core/tuf/remote_sessions.h"

#include <gtest/gtest.h>

#include "core/tuf/test_fixtures.h"

namespace porthole::tuf {
namespace {

using fixtures::ReadRac;
using fixtures::Time;

constexpr char kClient1[] =
    "ssh-ed25519 "
    "AAAAC3NzaC1lZDI1NTE5AAAAIOfgyvDfxMI1lfrHBWZSEnIX8isPMdg8CZLNKB7W4rj/";

RemoteSessions FromSigned(const std::string& signed_json) {
  std::string text = R"({"signatures":[],"signed":)" + signed_json + "}";
  SignedDocument doc = ParseSignedDocument(text, "rs.json").value();
  ErrorOr<RemoteSessions> rs = ParseRemoteSessions(doc);
  if (!rs.ok()) ADD_FAILURE() << rs.error().message();
  return std::move(rs).value();
}

std::string WithCommands(const std::string& remote_commands) {
  return R"({"_type":"Remote-Sessions","version":1,
             "expires":"2030-01-01T00:00:00Z","remote_sessions":{},
             "remote_commands":)" +
         remote_commands + "}";
}

TEST(RemoteSessionsTest, ParsesRacVector) {
  SignedDocument doc =
      ParseSignedDocument(ReadRac("remote-sessions.json"), "rs.json").value();
  ErrorOr<RemoteSessions> rs = ParseRemoteSessions(doc);
  ASSERT_TRUE(rs.ok()) << rs.error().message();
  EXPECT_EQ(rs->version, 87u);
  EXPECT_EQ(rs->expires, Time("2034-03-12T15:48:31Z"));
  EXPECT_TRUE(rs->remote_sessions.is_object());
  EXPECT_FALSE(rs->remote_commands.has_value());

  ErrorOr<SshPolicy> ssh = ParseSshPolicy(*rs);
  ASSERT_TRUE(ssh.ok()) << ssh.error().message();
  ASSERT_EQ(ssh->authorized_keys.size(), 2u);
  // The map keys of the vector are the hex SHA-256 of each key blob.
  for (const SshPolicy::AuthorizedKey& k : ssh->authorized_keys) {
    EXPECT_EQ(k.id, k.key.BlobSha256Hex());
  }
  EXPECT_EQ(ssh->authorized_keys[0].line, kClient1);
  EXPECT_EQ(ssh->ra_server_hosts,
            (std::vector<std::string>{"localhost", "ras.dev.torizon.io"}));
  EXPECT_EQ(ssh->ra_server_ssh_pubkeys.size(), 3u);

  ErrorOr<std::optional<CommandPolicy>> commands = ParseCommandPolicy(*rs);
  ASSERT_TRUE(commands.ok());
  EXPECT_FALSE(commands->has_value());
}

TEST(RemoteSessionsTest, Errors) {
  struct Case {
    const char* name;
    std::string signed_json;
    ErrorCode code;
    std::string message;
  };
  const Case kCases[] = {
      {"NoType", R"({"version":1,"expires":"2030-01-01T00:00:00Z",
                     "remote_sessions":{}})",
       ErrorCode::kWrongType,
       "rs.json: _type must be 'Remote-Sessions' (missing)"},
      {"RootType", R"({"_type":"Root","version":1,
                       "expires":"2030-01-01T00:00:00Z","remote_sessions":{}})",
       ErrorCode::kWrongType,
       "rs.json: _type must be 'Remote-Sessions' ('Root')"},
      {"TypeNotString", R"({"_type":1})", ErrorCode::kWrongType,
       "rs.json: _type must be 'Remote-Sessions' (not a string)"},
      {"NoRemoteSessions", R"({"_type":"Remote-Sessions","version":1,
                               "expires":"2030-01-01T00:00:00Z"})",
       ErrorCode::kMalformed, "rs.json: missing member 'remote_sessions'"},
      {"VersionZero", R"({"_type":"Remote-Sessions","version":0,
                          "expires":"2030-01-01T00:00:00Z",
                          "remote_sessions":{}})",
       ErrorCode::kMalformed,
       "rs.json: member 'version' must be an integer >= 1"},
      {"NoExpires", R"({"_type":"Remote-Sessions","version":2,
                        "remote_sessions":{}})",
       ErrorCode::kMalformed, "rs.json: missing member 'expires'"},
  };
  for (const Case& c : kCases) {
    std::string text = R"({"signatures":[],"signed":)" + c.signed_json + "}";
    SignedDocument doc = ParseSignedDocument(text, "rs.json").value();
    ErrorOr<RemoteSessions> rs = ParseRemoteSessions(doc);
    ASSERT_FALSE(rs.ok()) << c.name;
    EXPECT_EQ(rs.error().code(), c.code) << c.name;
    EXPECT_EQ(rs.error().message(), c.message) << c.name;
  }
}

TEST(SshPolicyTest, Errors) {
  struct Case {
    const char* name;
    std::string remote_sessions;
    std::string message;
  };
  const std::string key = std::string("\"") + kClient1 + "\"";
  const Case kCases[] = {
      {"NotObject", "[]", "remote_sessions: missing member 'ssh'"},
      {"NoSsh", "{}", "remote_sessions: missing member 'ssh'"},
      {"NoAuthorizedKeys",
       R"({"ssh":{"ra_server_hosts":[],"ra_server_ssh_pubkeys":[]}})",
       "remote_sessions.ssh: missing member 'authorized_keys'"},
      {"NoHosts",
       R"({"ssh":{"authorized_keys":{},"ra_server_ssh_pubkeys":[]}})",
       "remote_sessions.ssh: missing member 'ra_server_hosts'"},
      {"NoServerKeys", R"({"ssh":{"authorized_keys":{},"ra_server_hosts":[]}})",
       "remote_sessions.ssh: missing member 'ra_server_ssh_pubkeys'"},
      {"EntryWithoutPubkey",
       R"({"ssh":{"authorized_keys":{"0":{"meta":{}}},"ra_server_hosts":[],
                  "ra_server_ssh_pubkeys":[]}})",
       "remote_sessions.ssh.authorized_keys.0: missing member 'pubkey'"},
      {"BadPubkey",
       R"({"ssh":{"authorized_keys":{"0":{"pubkey":"ssh-ed25519 AAAA"}},
                  "ra_server_hosts":[],"ra_server_ssh_pubkeys":[]}})",
       "remote_sessions.ssh.authorized_keys.0: truncated key blob"},
      {"HostNotString",
       R"({"ssh":{"authorized_keys":{},"ra_server_hosts":[1],
                  "ra_server_ssh_pubkeys":[]}})",
       "remote_sessions.ssh: member 'ra_server_hosts' must be an array of "
       "strings"},
      {"BadServerKey",
       R"({"ssh":{"authorized_keys":{},"ra_server_hosts":[],
                  "ra_server_ssh_pubkeys":[)" +
           key + R"(,"nope"]}})",
       "remote_sessions.ssh.ra_server_ssh_pubkeys[1]: unknown key type "
       "'nope'"},
  };
  for (const Case& c : kCases) {
    RemoteSessions rs = FromSigned(
        R"({"_type":"Remote-Sessions","version":1,
            "expires":"2030-01-01T00:00:00Z","remote_sessions":)" +
        c.remote_sessions + "}");
    ErrorOr<SshPolicy> ssh = ParseSshPolicy(rs);
    ASSERT_FALSE(ssh.ok()) << c.name;
    EXPECT_EQ(ssh.error().code(), ErrorCode::kMalformed) << c.name;
    EXPECT_EQ(ssh.error().message(), c.message) << c.name;
  }
}

TEST(CommandPolicyTest, ParsesAndIgnoresUnknown) {
  RemoteSessions rs = FromSigned(WithCommands(
      R"({"allowed_commands":{"restart-service":{"args":["aktualizr"]},
                              "echo":{"args":["test"]},
                              "format-disk":{"args":"whatever"}},
          "version":"v1alpha","future":true})"));
  ErrorOr<std::optional<CommandPolicy>> p = ParseCommandPolicy(rs);
  ASSERT_TRUE(p.ok()) << p.error().message();
  ASSERT_TRUE(p->has_value());
  const CommandPolicy& policy = **p;
  EXPECT_EQ(policy.allowed.size(), 2u);
  struct Case {
    std::string name;
    std::vector<std::string> args;
    bool allowed;
  };
  const Case kCases[] = {
      {"echo", {"test"}, true},
      {"echo", {}, true},
      {"echo", {"test", "test"}, true},  // set membership, as RAC
      {"echo", {"other"}, false},
      {"echo", {"test", "other"}, false},
      {"restart-service", {"aktualizr"}, true},
      {"reboot", {}, false},
      {"format-disk", {}, false},
  };
  for (const Case& c : kCases) {
    EXPECT_EQ(policy.Allows(c.name, c.args), c.allowed) << c.name;
  }
}

TEST(CommandPolicyTest, AbsentOrNull) {
  for (const char* doc : {R"({"_type":"Remote-Sessions","version":1,
            "expires":"2030-01-01T00:00:00Z","remote_sessions":{}})",
                          R"({"_type":"Remote-Sessions","version":1,
            "expires":"2030-01-01T00:00:00Z","remote_sessions":{},
            "remote_commands":null})"}) {
    ErrorOr<std::optional<CommandPolicy>> p =
        ParseCommandPolicy(FromSigned(doc));
    ASSERT_TRUE(p.ok());
    EXPECT_FALSE(p->has_value());
  }
}

TEST(CommandPolicyTest, Errors) {
  struct Case {
    std::string remote_commands;
    std::string message;
  };
  const Case kCases[] = {
      {"[]", "remote_commands: must be an object"},
      {"{}", "remote_commands: missing member 'allowed_commands'"},
      {R"({"allowed_commands":{"echo":[]}})",
       "remote_commands.allowed_commands.echo: must be an object"},
      {R"({"allowed_commands":{"echo":{"args":[1]}}})",
       "remote_commands.allowed_commands.echo: member 'args' must be an array "
       "of strings"},
      {R"({"allowed_commands":{"reboot":{}}})",
       "remote_commands.allowed_commands.reboot: missing member 'args'"},
  };
  for (const Case& c : kCases) {
    ErrorOr<std::optional<CommandPolicy>> p =
        ParseCommandPolicy(FromSigned(WithCommands(c.remote_commands)));
    ASSERT_FALSE(p.ok()) << c.remote_commands;
    EXPECT_EQ(p.error().message(), c.message);
  }
}

}  // namespace
}  // namespace porthole::tuf
