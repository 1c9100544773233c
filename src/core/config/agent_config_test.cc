#include "core/config/agent_config.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <fstream>
#include <sstream>

#include "core/base/file.h"
#include "core/base/test_util.h"

namespace porthole::config {
namespace {

const std::string kTestData =
    std::string(PORTHOLE_SHARED_DIR) + "/testdata/rac";

std::string TestFile(const std::string& name) {
  auto text = ReadFile(kTestData + "/" + name, 1 << 20, true);
  EXPECT_TRUE(text.ok()) << text.status().message();
  return text.ok() ? *text : std::string();
}

void WriteText(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

// A config with fixed line numbers:
//   1 [torizon]          2 url          3-5 the three PEM paths
//   6 torizon_extra      8 [device]     9 ssh_private_key_path
//  10 device_extra      12 session (one or more lines)
struct Text {
  std::string url = "url = \"https://dgw.torizon.io/ras/\"";
  std::string torizon_extra;
  std::string server_cert = "server_cert_path = \"/root.crt\"";
  std::string device_extra;
  std::string session = "[device.session.embedded]";

  std::string str() const {
    return "[torizon]\n" + url +
           "\n"
           "client_cert_path = \"/c.pem\"\n"
           "client_key_path = \"/k.pem\"\n" +
           server_cert + "\n" + torizon_extra +
           "\n"
           "\n"
           "[device]\n"
           "ssh_private_key_path = \"/dev.sec\"\n" +
           device_extra + "\n\n" + session + "\n";
  }
};

Result<AgentConfig> Parse(const std::string& text,
                          const Environment& env = {}) {
  return ParseAgentConfig(text, "c.toml", env, "/var/lib/porthole");
}

// ---------------------------------------------------------------------------
// RAC's own example files.

TEST(AgentConfigTest, LoadsRacClientTomlUnchanged) {
  auto c = ParseAgentConfig(TestFile("client.toml"), "client.toml", {},
                            "/home/torizon");
  ASSERT_TRUE(c.ok()) << c.status().message();
  const TorizonConfig& tz = c->torizon;
  EXPECT_EQ(tz.url.ToString(), "https://dgw.dev.torizon.io/ras/");
  EXPECT_FALSE(tz.director_url.has_value());
  EXPECT_EQ(tz.Director().ToString(), "https://dgw.dev.torizon.io/director/");
  EXPECT_EQ(tz.client_cert_path, "device-files/dev/client.pem");
  EXPECT_EQ(tz.client_key_path, "device-files/dev/pkey.pem");
  EXPECT_EQ(tz.server_cert_path, "device-files/dev/root.crt");
  EXPECT_FALSE(tz.ats_namespace.has_value());
  EXPECT_EQ(tz.http_timeout, Duration::Seconds(10));

  const DeviceConfig& d = c->device;
  EXPECT_EQ(d.ssh_private_key_path, "./device-key-01.sec");
  EXPECT_EQ(d.local_tuf_repo_path, "uptane-repo");
  EXPECT_EQ(d.poll_timeout, Duration::Seconds(4));
  EXPECT_EQ(d.validation_poll_timeout, Duration::Seconds(60));
  EXPECT_FALSE(d.unprivileged_user_group.has_value());
  EXPECT_FALSE(d.enable_dbus_client);
  EXPECT_EQ(d.commands_dir, "commands");
  EXPECT_EQ(d.commands_timeout, Duration::Seconds(30));
  ASSERT_TRUE(std::holds_alternative<EmbeddedSession>(d.session));
  const auto& e = std::get<EmbeddedSession>(d.session);
  EXPECT_EQ(e.server_key_path, "embedded-rac-key.sec");
  EXPECT_EQ(e.shell, "/bin/bash");
  EXPECT_EQ(SessionModeName(d.session), "embedded");

  EXPECT_TRUE(c->notes.empty());
  EXPECT_EQ(c->Absolute(d.ssh_private_key_path),
            "/home/torizon/device-key-01.sec");
  EXPECT_EQ(c->Absolute(tz.client_cert_path),
            "/home/torizon/device-files/dev/client.pem");
  EXPECT_EQ(c->OriginOf("device.poll_timeout").origin, Origin::kFile);
  EXPECT_EQ(c->OriginOf("device.poll_timeout").detail, "client.toml:11");
  EXPECT_EQ(c->OriginOf("device.commands_timeout").origin, Origin::kDefault);
  EXPECT_EQ(c->OriginOf("torizon.director_url").origin, Origin::kDerived);
}

TEST(AgentConfigTest, RejectsRacAktualizrExampleNamingTheKey) {
  std::string text = TestFile("client-aktualizr.toml");
  auto c = ParseAgentConfig(text, "client-aktualizr.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(c.status().message(),
            "client-aktualizr.toml:9: key 'device.target_host_port': unknown "
            "key (RAC's older format: write host_port under "
            "[device.session.target_host])");

  // Without its two stale keys it still lacks a session mode.
  for (const char* stale : {"target_host_port = \"127.0.0.1:22\"",
                            "authorized_keys_path = "
                            "\"/home/torizon/.ssh/authorized_keys2\""}) {
    size_t at = text.find(stale);
    ASSERT_NE(at, std::string::npos) << stale;
    text.replace(at, std::string(stale).size(), "");
  }
  c = ParseAgentConfig(text, "client-aktualizr.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(),
            "client-aktualizr.toml:8: key 'device.session': missing; add one "
            "of [device.session.spawned_sshd], [device.session.embedded] or "
            "[device.session.target_host]");
}

// ---------------------------------------------------------------------------
// Defaults.

TEST(AgentConfigTest, EveryDefault) {
  auto c = Parse(Text{}.str());
  ASSERT_TRUE(c.ok()) << c.status().message();
  const TorizonConfig& tz = c->torizon;
  EXPECT_EQ(tz.Director().ToString(), "https://dgw.torizon.io/director/");
  EXPECT_FALSE(tz.ats_namespace.has_value());
  EXPECT_EQ(tz.http_timeout, (Duration{10, 0}));
  const DeviceConfig& d = c->device;
  EXPECT_EQ(d.local_tuf_repo_path, "uptane-repo");
  EXPECT_EQ(d.poll_timeout, (Duration{3, 0}));
  EXPECT_EQ(d.validation_poll_timeout, (Duration{3, 0}));
  EXPECT_FALSE(d.unprivileged_user_group.has_value());
  EXPECT_FALSE(d.enable_dbus_client);
  EXPECT_EQ(d.commands_dir, "commands");
  EXPECT_EQ(d.commands_timeout, (Duration{30, 0}));
  for (const char* key :
       {"torizon.namespace", "torizon.http_timeout",
        "device.local_tuf_repo_path", "device.poll_timeout",
        "device.validation_poll_timeout", "device.unprivileged_user_group",
        "device.enable_dbus_client", "device.commands_dir",
        "device.commands_timeout", "device.session.embedded.shell"}) {
    EXPECT_EQ(c->OriginOf(key).origin, Origin::kDefault) << key;
  }
  EXPECT_EQ(c->Absolute(d.local_tuf_repo_path),
            "/var/lib/porthole/uptane-repo");

  // Empty variant tables are valid; each has its defaults.
  const auto& e = std::get<EmbeddedSession>(d.session);
  EXPECT_FALSE(e.server_key_path.has_value());
  EXPECT_EQ(e.shell, "/bin/bash");

  Text t;
  t.session = "[device.session.spawned_sshd]";
  c = Parse(t.str());
  ASSERT_TRUE(c.ok()) << c.status().message();
  const auto& s = std::get<SpawnedSshdSession>(c->device.session);
  EXPECT_EQ(s.sshd_path, "/usr/sbin/sshd");
  EXPECT_EQ(s.config_dir, "/run/rac");
  EXPECT_FALSE(s.host_key_path.has_value());
  EXPECT_EQ(s.HostKeyPath(), "/run/rac/host_key_ed25519");

  t.session = "[device.session.target_host]";
  c = Parse(t.str());
  ASSERT_TRUE(c.ok()) << c.status().message();
  const auto& h = std::get<TargetHostSession>(c->device.session);
  EXPECT_EQ(h.host_port, (SocketAddress{"127.0.0.1", 22, false}));
  EXPECT_EQ(h.authorized_keys_path, "/home/torizon/.ssh/authorized_keys");
}

TEST(AgentConfigTest, ReadsEveryKey) {
  Text t;
  t.torizon_extra =
      "director_url = \"https://dgw.torizon.io/uptane/director/\"\n"
      "namespace = \"{8E6F1C2A-3B4D-4E5F-8A9B-0C1D2E3F4A5B}\"\n"
      "http_timeout = [20, 5]";
  t.device_extra =
      "local_tuf_repo_path = \"/var/run/rac/uptane-repo\"\n"
      "poll_timeout = { secs = 60, nanos = 0 }\n"
      "validation_poll_timeout = \"1m30s\"\n"
      "unprivileged_user_group = \"torizon:torizon\"\n"
      "enable_dbus_client = true\n"
      "commands_dir = \"/var/lib/rac/commands\"\n"
      "commands_timeout = \"1500ms\"";
  t.session =
      "[device.session.spawned_sshd]\n"
      "sshd_path = \"/usr/local/sbin/sshd\"\n"
      "config_dir = \"run/rac\"\n"
      "host_key_path = \"/etc/rac/host_key\"";
  auto c = Parse(t.str());
  ASSERT_TRUE(c.ok()) << c.status().message();
  const TorizonConfig& tz = c->torizon;
  EXPECT_EQ(tz.Director().ToString(),
            "https://dgw.torizon.io/uptane/director/");
  EXPECT_EQ(tz.ats_namespace, "8e6f1c2a-3b4d-4e5f-8a9b-0c1d2e3f4a5b");
  EXPECT_EQ(tz.http_timeout, (Duration{20, 5}));
  const DeviceConfig& d = c->device;
  EXPECT_EQ(d.local_tuf_repo_path, "/var/run/rac/uptane-repo");
  EXPECT_EQ(d.poll_timeout, (Duration{60, 0}));
  EXPECT_EQ(d.validation_poll_timeout, (Duration{90, 0}));
  EXPECT_EQ(d.unprivileged_user_group, (UserGroup{"torizon", "torizon"}));
  EXPECT_TRUE(d.enable_dbus_client);
  EXPECT_EQ(d.commands_dir, "/var/lib/rac/commands");
  EXPECT_EQ(d.commands_timeout, (Duration{1, 500'000'000}));
  const auto& s = std::get<SpawnedSshdSession>(d.session);
  EXPECT_EQ(s.sshd_path, "/usr/local/sbin/sshd");
  EXPECT_EQ(s.config_dir, "run/rac");
  EXPECT_EQ(s.HostKeyPath(), "/etc/rac/host_key");
  EXPECT_EQ(c->Absolute(s.config_dir), "/var/lib/porthole/run/rac");
}

TEST(AgentConfigTest, TargetHostAddresses) {
  const std::pair<const char*, SocketAddress> cases[] = {
      {"127.0.0.1:22", {"127.0.0.1", 22, false}},
      {"10.1.2.3:2222", {"10.1.2.3", 2222, false}},
      {"[::1]:22", {"::1", 22, true}},
      {"[2001:DB8:0:0::1]:65535", {"2001:db8::1", 65535, true}},
  };
  for (const auto& [text, want] : cases) {
    SCOPED_TRACE(text);
    Text t;
    t.session = std::string("[device.session.target_host]\nhost_port = \"") +
                text + "\"\nauthorized_keys_path = \"keys\"";
    auto c = Parse(t.str());
    ASSERT_TRUE(c.ok()) << c.status().message();
    const auto& h = std::get<TargetHostSession>(c->device.session);
    EXPECT_EQ(h.host_port, want);
    EXPECT_EQ(h.authorized_keys_path, "keys");
  }
}

// ---------------------------------------------------------------------------
// Durations.

TEST(AgentConfigTest, DurationForms) {
  const std::pair<const char*, Duration> cases[] = {
      {"{ secs = 4, nanos = 0 }", {4, 0}},
      {"{ nanos = 5, secs = 4 }", {4, 5}},
      {"{ secs = 1, nanos = 1500000000 }", {2, 500'000'000}},
      {"[4, 0]", {4, 0}},
      {"[0, 250000000]", {0, 250'000'000}},
      {"\"30s\"", {30, 0}},
      {"\"1500ms\"", {1, 500'000'000}},
      {"\"2m\"", {120, 0}},
      {"\"1h\"", {3600, 0}},
  };
  for (const auto& [value, want] : cases) {
    SCOPED_TRACE(value);
    Text t;
    t.device_extra = std::string("poll_timeout = ") + value;
    auto c = Parse(t.str());
    ASSERT_TRUE(c.ok()) << c.status().message();
    EXPECT_EQ(c->device.poll_timeout, want);
  }
  // A [table] form works too.
  Text t;
  t.session =
      "[device.poll_timeout]\nsecs = 7\nnanos = 0\n[device.session.embedded]";
  auto c = Parse(t.str());
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->device.poll_timeout, (Duration{7, 0}));
}

// ---------------------------------------------------------------------------
// Errors: one line naming file, line and key.

struct ErrorCase {
  const char* name;
  Text text;
  Environment env;
  std::string message;
};

Text With(std::string Text::*field, std::string value) {
  Text t;
  t.*field = std::move(value);
  return t;
}

const char kModes[] =
    "[device.session.spawned_sshd], [device.session.embedded] or "
    "[device.session.target_host]";

TEST(AgentConfigTest, Errors) {
  const std::string two_modes =
      std::string(
          "c.toml:13: key 'device.session.target_host': a second session "
          "mode (embedded is set at c.toml:12); keep exactly one of ") +
      kModes;
  const std::string no_mode =
      std::string("c.toml:8: key 'device.session': missing; add one of ") +
      kModes;
  const std::string host_port_form =
      " is not an IP address and port such as \"127.0.0.1:22\" or "
      "\"[::1]:22\" (host names are not accepted)";
  auto host_port = [](const char* v) {
    return With(&Text::session,
                std::string("[device.session.target_host]\nhost_port = ") + v);
  };
  Text session_value;
  session_value.device_extra = "session = 1";
  session_value.session = "";
  auto poll = [](const char* v) {
    return With(&Text::device_extra, std::string("poll_timeout = ") + v);
  };
  const ErrorCase cases[] = {
      // Missing required keys.
      {"missing url",
       With(&Text::url, ""),
       {},
       "c.toml:1: key 'torizon.url': missing (required)"},
      {"missing server_cert_path",
       With(&Text::server_cert, ""),
       {},
       "c.toml:1: key 'torizon.server_cert_path': missing (required)"},
      {"unknown table",
       With(&Text::url, "[nothing]"),
       {},
       "c.toml:2: key 'nothing': unknown key"},
      {"no session mode", With(&Text::session, ""), {}, no_mode},
      {"empty [device.session]",
       With(&Text::session, "[device.session]"),
       {},
       no_mode},
      {"two session modes",
       With(&Text::session,
            "[device.session.embedded]\n[device.session.target_host]"),
       {},
       two_modes},
      // Unknown keys, in each table.
      {"unknown top-level table",
       With(&Text::session, "[metrics]"),
       {},
       "c.toml:12: key 'metrics': unknown key"},
      {"unknown in [torizon]",
       With(&Text::torizon_extra, "urll = \"x\""),
       {},
       "c.toml:6: key 'torizon.urll': unknown key"},
      {"unknown in [device]",
       With(&Text::device_extra, "poll = 3"),
       {},
       "c.toml:10: key 'device.poll': unknown key"},
      {"unknown in [device.session]",
       With(&Text::session, "[device.session.ssh]"),
       {},
       "c.toml:12: key 'device.session.ssh': unknown key"},
      {"unknown in embedded",
       With(&Text::session, "[device.session.embedded]\nport = 22"),
       {},
       "c.toml:13: key 'device.session.embedded.port': unknown key"},
      {"unknown in spawned_sshd",
       With(&Text::session, "[device.session.spawned_sshd]\nshell = \"sh\""),
       {},
       "c.toml:13: key 'device.session.spawned_sshd.shell': unknown key"},
      {"unknown in target_host",
       With(&Text::session, "[device.session.target_host]\nsshd_path = \"x\""),
       {},
       "c.toml:13: key 'device.session.target_host.sshd_path': unknown key"},
      {"unknown in a duration",
       poll("{ secs = 1, nanos = 0, nano = 1 }"),
       {},
       "c.toml:10: key 'device.poll_timeout.nano': unknown key (a duration "
       "has secs and nanos)"},
      {"quoted unknown key with a newline",
       With(&Text::device_extra, "\"a\\nb\" = 1"),
       {},
       "c.toml:10: key 'device.a\\x0ab': unknown key"},
      // Types.
      {"url not a string",
       With(&Text::url, "url = 5"),
       {},
       "c.toml:2: key 'torizon.url': expected a string"},
      {"nested unknown key",
       With(&Text::session, "device = 1"),
       {},
       "c.toml:12: key 'device.device': unknown key"},
      {"session not a table",
       session_value,
       {},
       "c.toml:10: key 'device.session': expected a table"},
      {"bool as string",
       With(&Text::device_extra, "enable_dbus_client = \"yes\""),
       {},
       "c.toml:10: key 'device.enable_dbus_client': expected true or false"},
      {"empty path",
       With(&Text::session, "[device.session.embedded]\nshell = \"\""),
       {},
       "c.toml:13: key 'device.session.embedded.shell': an empty path"},
      // URLs.
      {"url without scheme",
       With(&Text::url, "url = \"dgw.torizon.io/ras/\""),
       {},
       "c.toml:2: key 'torizon.url': 'dgw.torizon.io/ras/' is not an absolute "
       "URL (no scheme)"},
      {"url with another scheme",
       With(&Text::url, "url = \"ftp://h/ras/\""),
       {},
       "c.toml:2: key 'torizon.url': 'ftp://h/ras/': the scheme must be https "
       "or http, not 'ftp'"},
      {"url without host",
       With(&Text::url, "url = \"https:///ras/\""),
       {},
       "c.toml:2: key 'torizon.url': 'https:///ras/' has no host"},
      {"url with a space",
       With(&Text::url, "url = \"https://h/r s/\""),
       {},
       "c.toml:2: key 'torizon.url': 'https://h/r s/': a URL cannot contain "
       "' '"},
      {"bad director_url",
       With(&Text::torizon_extra, "director_url = \"https://h:99999/d/\""),
       {},
       "c.toml:6: key 'torizon.director_url': 'https://h:99999/d/': the port "
       "must be 1 to 65535, not '99999'"},
      {"bad namespace",
       With(&Text::torizon_extra, "namespace = \"xyz\""),
       {},
       "c.toml:6: key 'torizon.namespace': 'xyz' is not a UUID (e.g. "
       "\"8e6f1c2a-3b4d-4e5f-8a9b-0c1d2e3f4a5b\")"},
      // Durations.
      {"bare integer duration",
       poll("4"),
       {},
       "c.toml:10: key 'device.poll_timeout': a bare integer is not a "
       "duration; write { secs = N, nanos = 0 } or a string such as \"30s\""},
      {"duration without nanos",
       poll("{ secs = 4 }"),
       {},
       "c.toml:10: key 'device.poll_timeout': nanos is missing (a duration "
       "needs both secs and nanos)"},
      {"duration without secs",
       poll("{ nanos = 4 }"),
       {},
       "c.toml:10: key 'device.poll_timeout': secs is missing (a duration "
       "needs both secs and nanos)"},
      {"negative secs",
       poll("{ secs = -1, nanos = 0 }"),
       {},
       "c.toml:10: key 'device.poll_timeout.secs': secs must not be "
       "negative"},
      {"nanos beyond u32",
       poll("{ secs = 1, nanos = 4294967296 }"),
       {},
       "c.toml:10: key 'device.poll_timeout': nanos must be at most "
       "4294967295"},
      {"string secs",
       poll("{ secs = \"4\", nanos = 0 }"),
       {},
       "c.toml:10: key 'device.poll_timeout.secs': expected an integer"},
      {"three-element array",
       poll("[1, 2, 3]"),
       {},
       "c.toml:10: key 'device.poll_timeout': a duration array is [secs, "
       "nanos], two integers"},
      {"float duration",
       poll("1.5"),
       {},
       "c.toml:10: key 'device.poll_timeout': expected a duration: { secs = "
       "N, nanos = M }, [N, M] or a string such as \"30s\", \"1500ms\", "
       "\"2m\", \"1h\""},
      {"too long a duration",
       poll("\"9223372036854775808s\""),
       {},
       "c.toml:10: key 'device.poll_timeout': longer than the longest "
       "duration a config file can hold (9223372036854775807 seconds)"},
      {"unitless text duration",
       poll("\"30\""),
       {},
       "c.toml:10: key 'device.poll_timeout': '30' has no unit (h, m, s, ms, "
       "us, ns)"},
      // host_port.
      {"host name",
       host_port("\"localhost:22\""),
       {},
       (std::string("c.toml:13: key 'device.session.target_host.host_port': "
                    "'localhost:22'") +
        host_port_form)},
      {"no port",
       host_port("\"127.0.0.1\""),
       {},
       (std::string("c.toml:13: key 'device.session.target_host.host_port': "
                    "'127.0.0.1'") +
        host_port_form)},
      {"unbracketed IPv6",
       host_port("\"::1:22\""),
       {},
       (std::string("c.toml:13: key 'device.session.target_host.host_port': "
                    "'::1:22'") +
        host_port_form)},
      {"port 0",
       host_port("\"127.0.0.1:0\""),
       {},
       "c.toml:13: key 'device.session.target_host.host_port': "
       "'127.0.0.1:0': the port must be 1 to 65535"},
      {"port too big",
       host_port("\"[::1]:65536\""),
       {},
       "c.toml:13: key 'device.session.target_host.host_port': "
       "'[::1]:65536': the port must be 1 to 65535"},
      // user:group.
      {"user without group",
       With(&Text::device_extra, "unprivileged_user_group = \"torizon\""),
       {},
       "c.toml:10: key 'device.unprivileged_user_group': 'torizon' is not "
       "\"user:group\" (no ':')"},
      {"empty group",
       With(&Text::device_extra, "unprivileged_user_group = \"torizon:\""),
       {},
       "c.toml:10: key 'device.unprivileged_user_group': 'torizon:': '' is "
       "not a group name"},
      {"two colons",
       With(&Text::device_extra, "unprivileged_user_group = \"a:b:c\""),
       {},
       "c.toml:10: key 'device.unprivileged_user_group': 'a:b:c': 'b:c' is "
       "not a group name"},
      {"space in user",
       With(&Text::device_extra, "unprivileged_user_group = \"a b:c\""),
       {},
       "c.toml:10: key 'device.unprivileged_user_group': 'a b:c': 'a b' is "
       "not a user name"},
      // The environment.
      {"unknown variable",
       Text{},
       {{"RAC__TORIZON__URLL", "x"}},
       "environment variable RAC__TORIZON__URLL: key 'torizon.urll': unknown "
       "key"},
      {"unknown duration part",
       Text{},
       {{"RAC__DEVICE__POLL_TIMEOUT__MILLIS", "5"}},
       "environment variable RAC__DEVICE__POLL_TIMEOUT__MILLIS: key "
       "'device.poll_timeout.millis': unknown key"},
      {"variable naming a table",
       Text{},
       {{"RAC__DEVICE__SESSION", "x"}},
       "environment variable RAC__DEVICE__SESSION: key 'device.session': is a "
       "table; set its keys one by one (RAC__DEVICE__SESSION__<KEY>)"},
      {"empty segment",
       Text{},
       {{"RAC__DEVICE____SHELL", "x"}},
       "environment variable RAC__DEVICE____SHELL: not a key path "
       "(PREFIX__TABLE__KEY, e.g. RAC__TORIZON__URL)"},
      {"bad integer",
       Text{},
       {{"RAC__DEVICE__POLL_TIMEOUT__SECS", "abc"}},
       "environment variable RAC__DEVICE__POLL_TIMEOUT__SECS: key "
       "'device.poll_timeout.secs': expected an unsigned integer, not 'abc'"},
      {"negative integer",
       Text{},
       {{"RAC__DEVICE__POLL_TIMEOUT__SECS", "-1"},
        {"RAC__DEVICE__POLL_TIMEOUT__NANOS", "0"}},
       "environment variable RAC__DEVICE__POLL_TIMEOUT__SECS: key "
       "'device.poll_timeout.secs': expected an unsigned integer, not '-1'"},
      {"secs without nanos",
       Text{},
       {{"RAC__DEVICE__POLL_TIMEOUT__SECS", "5"}},
       "environment variable RAC__DEVICE__POLL_TIMEOUT__SECS: key "
       "'device.poll_timeout': nanos is missing (a duration needs both secs "
       "and nanos)"},
      {"text and parts",
       Text{},
       {{"RAC__DEVICE__POLL_TIMEOUT", "5s"},
        {"RAC__DEVICE__POLL_TIMEOUT__SECS", "5"}},
       "environment variable RAC__DEVICE__POLL_TIMEOUT: key "
       "'device.poll_timeout': also set by RAC__DEVICE__POLL_TIMEOUT__SECS; "
       "set either the text form or secs and nanos"},
      {"bad text duration",
       Text{},
       {{"PORTHOLE__DEVICE__POLL_TIMEOUT", "5"}},
       "environment variable PORTHOLE__DEVICE__POLL_TIMEOUT: key "
       "'device.poll_timeout': '5' has no unit (h, m, s, ms, us, ns)"},
      {"bad bool",
       Text{},
       {{"RAC__DEVICE__ENABLE_DBUS_CLIENT", "maybe"}},
       "environment variable RAC__DEVICE__ENABLE_DBUS_CLIENT: key "
       "'device.enable_dbus_client': expected true or false, not 'maybe'"},
      {"bad url",
       Text{},
       {{"RAC__TORIZON__URL", "https://"}},
       "environment variable RAC__TORIZON__URL: key 'torizon.url': "
       "'https://' has no host"},
      {"value not UTF-8",
       Text{},
       {{"RAC__DEVICE__COMMANDS_DIR", "/c\xff"}},
       "environment variable RAC__DEVICE__COMMANDS_DIR: key "
       "'device.commands_dir': the value is not valid UTF-8"},
      {"empty value",
       Text{},
       {{"RAC__DEVICE__COMMANDS_DIR", ""}},
       "environment variable RAC__DEVICE__COMMANDS_DIR: key "
       "'device.commands_dir': an empty path"},
      {"second session mode by env",
       Text{},
       {{"RAC__DEVICE__SESSION__TARGET_HOST__HOST_PORT", "127.0.0.1:2222"}},
       (std::string("environment variable "
                    "RAC__DEVICE__SESSION__TARGET_HOST__HOST_PORT: key "
                    "'device.session.target_host': a second session mode "
                    "(embedded is set at c.toml:12); keep exactly one of ") +
        kModes)},
      {"two session modes, both by env",
       With(&Text::session, ""),
       {{"RAC__DEVICE__SESSION__SPAWNED_SSHD__CONFIG_DIR", "/run/x"},
        {"RAC__DEVICE__SESSION__EMBEDDED__SHELL", "/bin/sh"}},
       (std::string("environment variable "
                    "RAC__DEVICE__SESSION__EMBEDDED__SHELL: key "
                    "'device.session.embedded': a second session mode "
                    "(spawned_sshd is set by "
                    "RAC__DEVICE__SESSION__SPAWNED_SSHD__CONFIG_DIR); keep "
                    "exactly one of ") +
        kModes)},
      {"bad host_port by env",
       With(&Text::session, "[device.session.target_host]"),
       {{"RAC__DEVICE__SESSION__TARGET_HOST__HOST_PORT", "host:22"}},
       (std::string("environment variable "
                    "RAC__DEVICE__SESSION__TARGET_HOST__HOST_PORT: key "
                    "'device.session.target_host.host_port': 'host:22'") +
        host_port_form)},
  };
  for (const ErrorCase& c : cases) {
    SCOPED_TRACE(c.name);
    auto r = Parse(c.text.str(), c.env);
    ASSERT_FALSE(r.ok()) << c.text.str();
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(r.status().message(), c.message) << c.text.str();
    EXPECT_EQ(r.status().message().find('\n'), std::string::npos);
  }
}

// The [porthole] table: porthole's own keys, strict like the rest.
Text WithPorthole(const std::string& lines) {
  return With(&Text::session,
              "[device.session.embedded]\n[porthole]\n" + lines);
}

TEST(PortholeTableTest, Defaults) {
  auto c = Parse(Text{}.str());
  ASSERT_TRUE(c.ok()) << c.status().message();
  const PortholeConfig& p = c->porthole;
  EXPECT_EQ(p.dbus_bus, DbusBus::kSession);
  EXPECT_EQ(p.long_poll_wait, (Duration{25, 0}));
  EXPECT_EQ(p.link_timeout, (Duration{8, 0}));
  EXPECT_EQ(p.reboot_command,
            (std::vector<std::string>{"sudo", "-n", "shutdown", "-r",
                                      "+{delay_minutes}"}));
  EXPECT_EQ(p.reboot_delay, (Duration{60, 0}));
  EXPECT_EQ(p.restart_service_command,
            (std::vector<std::string>{"sudo", "-n", "systemctl", "restart",
                                      "{service}"}));
  for (const char* key : {"porthole.dbus_bus", "porthole.long_poll_wait",
                          "porthole.link_timeout", "porthole.reboot_command", "porthole.reboot_delay",
                          "porthole.restart_service_command"}) {
    EXPECT_EQ(c->OriginOf(key).origin, Origin::kDefault) << key;
  }
}

TEST(PortholeTableTest, ReadsEveryKey) {
  auto c = Parse(WithPorthole("dbus_bus = \"system\"\n"
                              "long_poll_wait = \"40s\"\n"
                              "link_timeout = \"1m\"\n"
                              "reboot_command = [\"systemctl\", \"reboot\", "
                              "\"--when=+{delay_seconds}s\"]\n"
                              "reboot_delay = { secs = 90, nanos = 0 }\n"
                              "restart_service_command = [\"/bin/sh\", \"-c\", "
                              "\"exec systemctl restart \\\"$1\\\"\", \"sh\", "
                              "\"{service}.service\"]")
                     .str());
  ASSERT_TRUE(c.ok()) << c.status().message();
  const PortholeConfig& p = c->porthole;
  EXPECT_EQ(p.dbus_bus, DbusBus::kSystem);
  EXPECT_EQ(p.long_poll_wait, (Duration{40, 0}));
  EXPECT_EQ(p.link_timeout, (Duration{60, 0}));
  EXPECT_EQ(p.reboot_command,
            (std::vector<std::string>{"systemctl", "reboot",
                                      "--when=+{delay_seconds}s"}));
  EXPECT_EQ(p.reboot_delay, (Duration{90, 0}));
  EXPECT_EQ(p.restart_service_command,
            (std::vector<std::string>{"/bin/sh", "-c",
                                      "exec systemctl restart \"$1\"", "sh",
                                      "{service}.service"}));
  EXPECT_EQ(c->OriginOf("porthole.reboot_command").detail, "c.toml:17");
  // Braces that are not a placeholder are kept as they are.
  c = Parse(
      WithPorthole("reboot_command = [\"x\", \"{}\", \"{A}\", \"{a\"]").str());
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->porthole.reboot_command.size(), 4u);
  // The environment sets the scalar keys.
  c = Parse(Text{}.str(), {{"PORTHOLE__PORTHOLE__DBUS_BUS", "system"},
                           {"PORTHOLE__PORTHOLE__LONG_POLL_WAIT", "0s"},
                           {"PORTHOLE__PORTHOLE__LINK_TIMEOUT", "4s"},
                           {"RAC__PORTHOLE__REBOOT_DELAY__SECS", "5"},
                           {"RAC__PORTHOLE__REBOOT_DELAY__NANOS", "0"}});
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->porthole.dbus_bus, DbusBus::kSystem);
  EXPECT_EQ(c->porthole.long_poll_wait, (Duration{0, 0}));
  EXPECT_EQ(c->porthole.reboot_delay, (Duration{5, 0}));
  EXPECT_EQ(c->porthole.link_timeout, (Duration{4, 0}));
  // The bounds themselves are allowed, in any form.
  c = Parse(WithPorthole("link_timeout = { secs = 3600, nanos = 0 }").str());
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->porthole.link_timeout, kMaxLinkTimeout);
}

TEST(PortholeTableTest, Errors) {
  const std::string known_delay = " (known: {delay_seconds}, {delay_minutes})";
  std::string many = "reboot_command = [";
  for (int i = 0; i < 65; ++i) many += std::string(i ? ", " : "") + "\"a\"";
  many += "]";
  const ErrorCase cases[] = {
      {"unknown key",
       WithPorthole("dbus = \"system\""),
       {},
       "c.toml:14: key 'porthole.dbus': unknown key"},
      {"bad bus",
       WithPorthole("dbus_bus = \"System\""),
       {},
       "c.toml:14: key 'porthole.dbus_bus': expected \"session\" or "
       "\"system\", not 'System'"},
      {"bad bus by env",
       Text{},
       {{"PORTHOLE__PORTHOLE__DBUS_BUS", "user"}},
       "environment variable PORTHOLE__PORTHOLE__DBUS_BUS: key "
       "'porthole.dbus_bus': expected \"session\" or \"system\", not 'user'"},
      {"wait as a number",
       WithPorthole("long_poll_wait = 25"),
       {},
       "c.toml:14: key 'porthole.long_poll_wait': a bare integer is not a "
       "duration; write { secs = N, nanos = 0 } or a string such as \"30s\""},
      {"link timeout too short",
       WithPorthole("link_timeout = \"3999ms\""),
       {},
       "c.toml:14: key 'porthole.link_timeout': 3s999ms is outside 4s..1h"},
      {"link timeout too long",
       WithPorthole("link_timeout = [3600, 1]"),
       {},
       "c.toml:14: key 'porthole.link_timeout': 1h1ns is outside 4s..1h"},
      {"link timeout too short by env",
       Text{},
       {{"RAC__PORTHOLE__LINK_TIMEOUT__SECS", "1"},
        {"RAC__PORTHOLE__LINK_TIMEOUT__NANOS", "0"}},
       "environment variable RAC__PORTHOLE__LINK_TIMEOUT__SECS: key "
       "'porthole.link_timeout': 1s is outside 4s..1h"},
      {"link timeout zero by env",
       Text{},
       {{"PORTHOLE__PORTHOLE__LINK_TIMEOUT", "0s"}},
       "environment variable PORTHOLE__PORTHOLE__LINK_TIMEOUT: key "
       "'porthole.link_timeout': 0s is outside 4s..1h"},
      {"argv as a string",
       WithPorthole("reboot_command = \"sudo reboot\""),
       {},
       "c.toml:14: key 'porthole.reboot_command': expected an array"},
      {"argv with a number",
       WithPorthole("reboot_command = [\"reboot\", 1]"),
       {},
       "c.toml:14: key 'porthole.reboot_command': expected an array of "
       "strings"},
      {"empty argv",
       WithPorthole("reboot_command = []"),
       {},
       "c.toml:14: key 'porthole.reboot_command': an argument vector has 1 "
       "to 64 elements"},
      {"too long argv",
       WithPorthole(many),
       {},
       "c.toml:14: key 'porthole.reboot_command': an argument vector has 1 "
       "to 64 elements"},
      {"empty program",
       WithPorthole("reboot_command = [\"\", \"reboot\"]"),
       {},
       "c.toml:14: key 'porthole.reboot_command': the program (first "
       "element) is empty"},
      {"NUL in an element",
       WithPorthole("reboot_command = [\"reboot\", \"a\\u0000b\"]"),
       {},
       "c.toml:14: key 'porthole.reboot_command': element 'a\\x00b' must be "
       "UTF-8 without NUL, at most 4096 bytes"},
      {"unknown placeholder",
       WithPorthole("reboot_command = [\"shutdown\", \"-r\", \"+{delay}\"]"),
       {},
       "c.toml:14: key 'porthole.reboot_command': unknown placeholder "
       "'{delay}' in '+{delay}'" +
           known_delay},
      {"service placeholder in reboot",
       WithPorthole("reboot_command = [\"reboot\", \"{service}\"]"),
       {},
       "c.toml:14: key 'porthole.reboot_command': unknown placeholder "
       "'{service}' in '{service}'" +
           known_delay},
      {"restart without the service",
       WithPorthole("restart_service_command = [\"systemctl\", \"restart\"]"),
       {},
       "c.toml:14: key 'porthole.restart_service_command': must contain "
       "{service} (where the name goes)"},
      {"restart with a delay",
       WithPorthole("restart_service_command = [\"x\", \"{service}\", "
                    "\"{delay_seconds}\"]"),
       {},
       "c.toml:14: key 'porthole.restart_service_command': unknown "
       "placeholder '{delay_seconds}' in '{delay_seconds}' (known: "
       "{service})"},
      {"argv by env",
       Text{},
       {{"PORTHOLE__PORTHOLE__REBOOT_COMMAND", "reboot"}},
       "environment variable PORTHOLE__PORTHOLE__REBOOT_COMMAND: key "
       "'porthole.reboot_command': an argument vector cannot be set from the "
       "environment; set it in the file"},
      {"porthole as a value",
       Text{},
       {{"RAC__PORTHOLE", "x"}},
       "environment variable RAC__PORTHOLE: key 'porthole': is a table; set "
       "its keys one by one (RAC__PORTHOLE__<KEY>)"},
  };
  for (const ErrorCase& c : cases) {
    SCOPED_TRACE(c.name);
    auto r = Parse(c.text.str(), c.env);
    ASSERT_FALSE(r.ok()) << c.text.str();
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(r.status().message(), c.message) << c.text.str();
  }
}

TEST(PortholeTableTest, ChangedSettings) {
  auto a = Parse(Text{}.str());
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(ChangedSettings(*a, *a).empty());
  Text t;
  t.device_extra = "poll_timeout = \"1h\"";
  t.session =
      "[device.session.target_host]\n[porthole]\nlong_poll_wait = \"5s\"";
  auto b = Parse(t.str());
  ASSERT_TRUE(b.ok()) << b.status().message();
  EXPECT_EQ(ChangedSettings(*a, *b),
            (std::vector<std::string>{
                "device.poll_timeout", "device.session",
                "device.session.target_host.host_port",
                "device.session.target_host.authorized_keys_path",
                "porthole.long_poll_wait", "device.session.embedded.shell"}));
  EXPECT_EQ(ChangedSettings(*b, *a),
            (std::vector<std::string>{
                "device.poll_timeout", "device.session",
                "device.session.embedded.shell", "porthole.long_poll_wait",
                "device.session.target_host.host_port",
                "device.session.target_host.authorized_keys_path"}));
}

TEST(AgentConfigTest, SyntaxErrorNamesFileAndLine) {
  auto c = Parse("[torizon]\nurl = \n");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(c.status().message().rfind("c.toml:2:", 0), 0u)
      << c.status().message();
}

TEST(AgentConfigTest, MissingTableHasNoLine) {
  auto c = Parse(
      "[device]\nssh_private_key_path = \"k\"\n"
      "[device.session.embedded]\n");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(),
            "c.toml: key 'torizon.url': missing (required)");
}

// ---------------------------------------------------------------------------
// URLs.

TEST(AgentConfigTest, TrailingSlashIsAppendedWithANote) {
  struct Case {
    const char* url;
    const char* director;  // director_url line, or ""
    const char* want_url;
    const char* want_director;
    std::vector<std::string> notes;
  };
  const Case cases[] = {
      {"https://dgw.torizon.io/ras/",
       "",
       "https://dgw.torizon.io/ras/",
       "https://dgw.torizon.io/director/",
       {}},
      {"https://dgw.torizon.io/ras",
       "",
       "https://dgw.torizon.io/ras/",
       "https://dgw.torizon.io/director/",
       {"c.toml:2: key 'torizon.url': 'https://dgw.torizon.io/ras' lacks the "
        "trailing '/'; porthole uses 'https://dgw.torizon.io/ras/' (stock "
        "RAC would call https://dgw.torizon.io/sessions)"}},
      {"http://10.0.0.5:8080",
       "",
       "http://10.0.0.5:8080/",
       "http://10.0.0.5:8080/director/",
       {"c.toml:2: key 'torizon.url': 'http://10.0.0.5:8080' lacks the "
        "trailing '/'; porthole uses 'http://10.0.0.5:8080/' (stock RAC would "
        "call http://10.0.0.5:8080/sessions)"}},
      {"https://h/ras/",
       "director_url = \"https://h/uptane/director\"",
       "https://h/ras/",
       "https://h/uptane/director/",
       {"c.toml:6: key 'torizon.director_url': 'https://h/uptane/director' "
        "lacks the trailing '/'; porthole uses 'https://h/uptane/director/' "
        "(stock RAC would call https://h/uptane/root.json)"}},
  };
  for (const Case& k : cases) {
    SCOPED_TRACE(k.url);
    Text t;
    t.url = std::string("url = \"") + k.url + "\"";
    t.torizon_extra = k.director;
    auto c = Parse(t.str());
    ASSERT_TRUE(c.ok()) << c.status().message();
    EXPECT_EQ(c->torizon.url.ToString(), k.want_url);
    EXPECT_EQ(c->torizon.Director().ToString(), k.want_director);
    EXPECT_EQ(c->notes, k.notes);
  }
}

TEST(AgentConfigTest, Endpoints) {
  Text t;
  auto c = Parse(t.str());
  ASSERT_TRUE(c.ok()) << c.status().message();
  const TorizonConfig& tz = c->torizon;
  EXPECT_EQ(tz.PublicKeysUrl(), "https://dgw.torizon.io/ras/public-keys");
  EXPECT_EQ(tz.SessionsUrl(), "https://dgw.torizon.io/ras/sessions");
  EXPECT_EQ(tz.CommandsUrl(), "https://dgw.torizon.io/ras/commands");
  EXPECT_EQ(tz.HostKeysUrl(), "https://dgw.torizon.io/ras/host-keys");
  EXPECT_EQ(tz.CommandResultUrl(
                "urn:tdx-ota:command:0b61a0c4-3f5e-4c1e-9a8e-5a0d0e7c2f11"),
            "https://dgw.torizon.io/ras/commands/"
            "urn:tdx-ota:command:0b61a0c4-3f5e-4c1e-9a8e-5a0d0e7c2f11/result");
  EXPECT_EQ(tz.RootUrl(), "https://dgw.torizon.io/director/root.json");
  EXPECT_EQ(tz.VersionedRootUrl(4),
            "https://dgw.torizon.io/director/4.root.json");
  EXPECT_EQ(tz.RemoteSessionsUrl(),
            "https://dgw.torizon.io/director/remote-sessions.json");

  t.torizon_extra = "director_url = \"https://other.example/tuf/d/\"";
  c = Parse(t.str());
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->torizon.RootUrl(), "https://other.example/tuf/d/root.json");
}

// ---------------------------------------------------------------------------
// The environment.

TEST(AgentConfigTest, EnvironmentOverridesKeyByKey) {
  Text t;
  t.device_extra = "poll_timeout = { secs = 4, nanos = 5 }";
  auto c = Parse(t.str(), {{"RAC__DEVICE__POLL_TIMEOUT__SECS", "7"},
                           {"RAC__TORIZON__URL", "https://env.example/ras/"},
                           {"RAC__DEVICE__ENABLE_DBUS_CLIENT", "TRUE"},
                           {"rac__device__commands_dir", "/env/commands"},
                           {"PORTHOLE__DEVICE__COMMANDS_TIMEOUT", "2m"},
                           {"RAC__TORIZON__HTTP_TIMEOUT__SECS", "3"},
                           {"RAC__TORIZON__HTTP_TIMEOUT__NANOS", "9"},
                           {"RACE", "not ours"},
                           {"PORTHOLE_LOG", "debug"}});
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->device.poll_timeout, (Duration{7, 5}));
  EXPECT_EQ(c->torizon.url.ToString(), "https://env.example/ras/");
  EXPECT_EQ(c->torizon.Director().ToString(), "https://env.example/director/");
  EXPECT_TRUE(c->device.enable_dbus_client);
  EXPECT_EQ(c->device.commands_dir, "/env/commands");
  EXPECT_EQ(c->device.commands_timeout, (Duration{120, 0}));
  EXPECT_EQ(c->torizon.http_timeout, (Duration{3, 9}));
  EXPECT_EQ(c->device.ssh_private_key_path, "/dev.sec");  // from the file

  ValueOrigin o = c->OriginOf("device.poll_timeout");
  EXPECT_EQ(o.origin, Origin::kEnvironment);
  EXPECT_EQ(o.detail, "RAC__DEVICE__POLL_TIMEOUT__SECS");
  EXPECT_EQ(
      c->OriginOf("torizon.http_timeout").detail,
      "RAC__TORIZON__HTTP_TIMEOUT__SECS, RAC__TORIZON__HTTP_TIMEOUT__NANOS");
  EXPECT_EQ(c->OriginOf("device.commands_dir").detail,
            "rac__device__commands_dir");
  EXPECT_EQ(c->OriginOf("device.ssh_private_key_path").origin, Origin::kFile);
  EXPECT_EQ(c->OriginOf("device.ssh_private_key_path").detail, "c.toml:9");
}

TEST(AgentConfigTest, EnvironmentCanSupplyWhatTheFileLacks) {
  Text t;
  t.url = "";
  t.session = "";
  auto c = Parse(t.str(),
                 {{"RAC__TORIZON__URL", "https://dgw.torizon.io/ras/"},
                  {"RAC__DEVICE__SESSION__TARGET_HOST__HOST_PORT", "[::1]:22"},
                  {"RAC__DEVICE__POLL_TIMEOUT__SECS", "1"},
                  {"RAC__DEVICE__POLL_TIMEOUT__NANOS", "0"}});
  ASSERT_TRUE(c.ok()) << c.status().message();
  const auto& h = std::get<TargetHostSession>(c->device.session);
  EXPECT_EQ(h.host_port, (SocketAddress{"::1", 22, true}));
  EXPECT_EQ(c->device.poll_timeout, (Duration{1, 0}));
}

TEST(AgentConfigTest, PortholePrefixWinsOverRac) {
  auto c = Parse(Text{}.str(), {{"PORTHOLE__DEVICE__COMMANDS_DIR", "/p"},
                                {"RAC__DEVICE__COMMANDS_DIR", "/r"}});
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->device.commands_dir, "/p");
}

TEST(AgentConfigTest, EnvironmentBools) {
  for (const auto& [value, want] :
       std::vector<std::pair<std::string, bool>>{{"true", true},
                                                 {"True", true},
                                                 {"yes", true},
                                                 {"on", true},
                                                 {"1", true},
                                                 {"false", false},
                                                 {"no", false},
                                                 {"off", false},
                                                 {"0", false}}) {
    SCOPED_TRACE(value);
    Text t;
    t.device_extra =
        std::string("enable_dbus_client = ") + (want ? "false" : "true");
    auto c = Parse(t.str(), {{"RAC__DEVICE__ENABLE_DBUS_CLIENT", value}});
    ASSERT_TRUE(c.ok()) << c.status().message();
    EXPECT_EQ(c->device.enable_dbus_client, want);
  }
}

// ---------------------------------------------------------------------------
// Finding the file.

class FindFileTest : public testing::Test {
 protected:
  LoadOptions Options(Environment env = {}) {
    LoadOptions o;
    o.env = std::move(env);
    o.cwd = dir_.path();
    o.search_path = {dir_.Join("etc-porthole-agent.toml"),
                     dir_.Join("etc-rac-client.toml"), "client.toml"};
    return o;
  }
  std::string Find(const LoadOptions& o) {
    auto r = FindAgentConfigFile(o);
    return r.ok() ? *r : "error: " + r.status().message();
  }
  TempDir dir_;
};

TEST_F(FindFileTest, SearchOrder) {
  const std::string d = dir_.path();
  EXPECT_EQ(Find(Options()),
            "error: no configuration file: CONFIG_FILE is not set and there "
            "is no " +
                d + "/etc-porthole-agent.toml, " + d +
                "/etc-rac-client.toml and " + d +
                "/client.toml (--config FILE names one)");
  EXPECT_EQ(FindAgentConfigFile(Options()).status().code(),
            StatusCode::kNotFound);
  WriteText(dir_.Join("client.toml"), "");
  EXPECT_EQ(Find(Options()), d + "/client.toml");
  WriteText(dir_.Join("etc-rac-client.toml"), "");
  EXPECT_EQ(Find(Options()), d + "/etc-rac-client.toml");
  WriteText(dir_.Join("etc-porthole-agent.toml"), "");
  EXPECT_EQ(Find(Options()), d + "/etc-porthole-agent.toml");
}

TEST_F(FindFileTest, ConfigFileMustExist) {
  const std::string d = dir_.path();
  WriteText(dir_.Join("client.toml"), "");
  EXPECT_EQ(Find(Options({{"CONFIG_FILE", d + "/rac"}})),
            "error: CONFIG_FILE: " + d + "/rac does not exist (nor " + d +
                "/rac.toml)");
  WriteText(dir_.Join("rac.toml"), "");
  EXPECT_EQ(Find(Options({{"CONFIG_FILE", d + "/rac"}})), d + "/rac.toml");
  WriteText(dir_.Join("rac"), "");
  EXPECT_EQ(Find(Options({{"CONFIG_FILE", d + "/rac"}})), d + "/rac");
  EXPECT_EQ(Find(Options({{"CONFIG_FILE", "./rac.toml"}})), d + "/rac.toml");
  EXPECT_EQ(Find(Options({{"CONFIG_FILE", ""}})),
            "error: CONFIG_FILE is set but empty");
}

TEST_F(FindFileTest, ConfigFlagWins) {
  const std::string d = dir_.path();
  WriteText(dir_.Join("a.toml"), "");
  WriteText(dir_.Join("b.toml"), "");
  LoadOptions o = Options({{"CONFIG_FILE", d + "/a.toml"}});
  o.config_file = "b.toml";
  EXPECT_EQ(Find(o), d + "/b.toml");
  o.config_file = "c";
  EXPECT_EQ(Find(o), "error: --config: " + d + "/c does not exist (nor " + d +
                         "/c.toml)");
}

// ---------------------------------------------------------------------------
// Loading, logging and writing.

// Captures the default logger's output while alive.
class LogCapture {
 public:
  LogCapture() {
    old_ = spdlog::default_logger();
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out_);
    auto logger = std::make_shared<spdlog::logger>("capture", sink);
    logger->set_pattern("%l %v");
    logger->set_level(spdlog::level::debug);
    spdlog::set_default_logger(logger);
  }
  ~LogCapture() { spdlog::set_default_logger(old_); }
  std::string str() const { return out_.str(); }

 private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::logger> old_;
};

TEST(LoadTest, LoadsAndLogsNotesAndDebugConfig) {
  TempDir dir;
  Text t;
  t.url = "url = \"https://dgw.torizon.io/ras\"";
  WriteText(dir.Join("client.toml"), t.str());
  LoadOptions o;
  o.cwd = dir.path();
  o.search_path = {"client.toml"};
  {
    LogCapture log;
    auto c = LoadAgentConfig(o);
    ASSERT_TRUE(c.ok()) << c.status().message();
    EXPECT_EQ(c->file, dir.Join("client.toml"));
    EXPECT_EQ(c->cwd, dir.path());
    EXPECT_EQ(log.str(),
              "warning " + dir.Join("client.toml") +
                  ":2: key 'torizon.url': 'https://dgw.torizon.io/ras' lacks "
                  "the trailing '/'; porthole uses "
                  "'https://dgw.torizon.io/ras/' (stock RAC would call "
                  "https://dgw.torizon.io/sessions)\n");
  }
  o.env = {{"DEBUG_CONFIG", "true"}};
  LogCapture log;
  auto c = LoadAgentConfig(o);
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_NE(log.str().find("debug config: [torizon]\n"), std::string::npos)
      << log.str();
  EXPECT_NE(log.str().find("debug config: [device.session.embedded]\n"),
            std::string::npos);
}

TEST(LoadTest, UnreadableOrMissing) {
  TempDir dir;
  LoadOptions o;
  o.cwd = dir.path();
  o.config_file = dir.path();  // a directory
  auto c = LoadAgentConfig(o);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().code(), StatusCode::kInvalidArgument);

  o.config_file = kTestData + "/client-aktualizr.toml";
  c = LoadAgentConfig(o);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(),
            kTestData +
                "/client-aktualizr.toml:9: key 'device.target_host_port': "
                "unknown key (RAC's older format: write host_port under "
                "[device.session.target_host])");
}

TEST(FormatTest, PlainIsRacsFormat) {
  auto c = ParseAgentConfig(TestFile("client.toml"), "client.toml", {},
                            "/home/torizon");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(FormatAgentConfig(*c, ConfigStyle::kPlain),
            R"([torizon]
url = "https://dgw.dev.torizon.io/ras/"
client_cert_path = "device-files/dev/client.pem"
client_key_path = "device-files/dev/pkey.pem"
server_cert_path = "device-files/dev/root.crt"
http_timeout = { secs = 10, nanos = 0 }

[device]
ssh_private_key_path = "./device-key-01.sec"
local_tuf_repo_path = "uptane-repo"
poll_timeout = { secs = 4, nanos = 0 }
validation_poll_timeout = { secs = 60, nanos = 0 }
enable_dbus_client = false
commands_dir = "commands"
commands_timeout = { secs = 30, nanos = 0 }

[device.session.embedded]
server_key_path = "embedded-rac-key.sec"
shell = "/bin/bash"
)");
}

TEST(FormatTest, AnnotatedShowsEveryKeyAndWhereItCameFrom) {
  auto c = ParseAgentConfig(TestFile("client.toml"), "client.toml",
                            {{"RAC__DEVICE__POLL_TIMEOUT__SECS", "5"}},
                            "/home/torizon");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(FormatAgentConfig(*c, ConfigStyle::kAnnotated),
            R"(# porthole-agent configuration, as loaded
# file: client.toml
# relative paths resolve against: /home/torizon
# from the environment: RAC__DEVICE__POLL_TIMEOUT__SECS

[torizon]
url = "https://dgw.dev.torizon.io/ras/"
# director_url = "https://dgw.dev.torizon.io/director/"  (not set: url with the path /director/)
client_cert_path = "device-files/dev/client.pem"  # /home/torizon/device-files/dev/client.pem
client_key_path = "device-files/dev/pkey.pem"  # /home/torizon/device-files/dev/pkey.pem
server_cert_path = "device-files/dev/root.crt"  # /home/torizon/device-files/dev/root.crt
# namespace is not set: no x-ats-namespace header
http_timeout = { secs = 10, nanos = 0 }  # 10s; default

[device]
ssh_private_key_path = "./device-key-01.sec"  # /home/torizon/device-key-01.sec
local_tuf_repo_path = "uptane-repo"  # /home/torizon/uptane-repo; default
poll_timeout = { secs = 5, nanos = 0 }  # 5s; from RAC__DEVICE__POLL_TIMEOUT__SECS
validation_poll_timeout = { secs = 60, nanos = 0 }  # 1m
# unprivileged_user_group is not set: privileges are not dropped
enable_dbus_client = false  # default
commands_dir = "commands"  # /home/torizon/commands; default
commands_timeout = { secs = 30, nanos = 0 }  # 30s; default

[device.session.embedded]
server_key_path = "embedded-rac-key.sec"  # /home/torizon/embedded-rac-key.sec
shell = "/bin/bash"

[porthole]
dbus_bus = "session"  # default
long_poll_wait = { secs = 25, nanos = 0 }  # 25s; default
link_timeout = { secs = 8, nanos = 0 }  # 8s; default
reboot_command = ["sudo", "-n", "shutdown", "-r", "+{delay_minutes}"]  # default
reboot_delay = { secs = 60, nanos = 0 }  # 1m; default
restart_service_command = ["sudo", "-n", "systemctl", "restart", "{service}"]  # default
)");
}

// Writing and reading back gives the same settings, in both styles.
TEST(FormatTest, RoundTrips) {
  std::vector<std::pair<std::string, Environment>> inputs = {
      {TestFile("client.toml"), {}},
      {Text{}.str(), {{"RAC__DEVICE__POLL_TIMEOUT", "1m30s"}}},
  };
  Text every;
  every.url = "url = \"https://dgw.torizon.io/ras\"";
  every.torizon_extra =
      "director_url = \"https://d.example/x\"\nnamespace = "
      "\"8E6F1C2A3B4D4E5F8A9B0C1D2E3F4A5B\"\nhttp_timeout = \"250ms\"";
  every.device_extra =
      "unprivileged_user_group = \"torizon:torizon\"\nenable_dbus_client = "
      "true\ncommands_dir = \"c \\\"d\\\"\"";
  every.session = "[device.session.spawned_sshd]\nconfig_dir = \"run\"";
  inputs.push_back({every.str(), {}});
  every.session = "[device.session.spawned_sshd]\nhost_key_path = \"/k\"";
  inputs.push_back({every.str(), {}});
  every.session = "[device.session.target_host]\nhost_port = \"[::1]:2222\"";
  inputs.push_back({every.str(), {}});
  every.session = "[device.session.embedded]";
  inputs.push_back({every.str(), {}});
  every.session =
      "[device.session.embedded]\n[porthole]\ndbus_bus = \"system\"\n"
      "long_poll_wait = \"1500ms\"\nlink_timeout = \"90s\"\n"
      "reboot_command = [\"a \\\"b\\\"\", "
      "\"{delay_seconds}\"]\nrestart_service_command = [\"{service}\"]";
  inputs.push_back({every.str(), {}});
  for (const auto& [text, env] : inputs) {
    SCOPED_TRACE(text);
    auto c = ParseAgentConfig(text, "in.toml", env, "/cwd");
    ASSERT_TRUE(c.ok()) << c.status().message();
    for (ConfigStyle style : {ConfigStyle::kPlain, ConfigStyle::kAnnotated}) {
      std::string out = FormatAgentConfig(*c, style);
      auto back = ParseAgentConfig(out, "out.toml", {}, "/cwd");
      ASSERT_TRUE(back.ok()) << back.status().message() << "\n" << out;
      EXPECT_TRUE(back->SameSettings(*c)) << out;
      EXPECT_TRUE(back->notes.empty()) << out;
      EXPECT_EQ(FormatAgentConfig(*back, ConfigStyle::kPlain),
                FormatAgentConfig(*c, ConfigStyle::kPlain));
    }
  }
}

TEST(AgentConfigTest, ValueParsers) {
  EXPECT_EQ(*ParseUuid("urn:uuid:8E6F1C2A-3B4D-4E5F-8A9B-0C1D2E3F4A5B"),
            "8e6f1c2a-3b4d-4e5f-8a9b-0c1d2e3f4a5b");
  EXPECT_EQ(*ParseUuid("8e6f1c2a3b4d4e5f8a9b0c1d2e3f4a5b"),
            "8e6f1c2a-3b4d-4e5f-8a9b-0c1d2e3f4a5b");
  EXPECT_FALSE(ParseUuid("8e6f1c2a-3b4d-4e5f-8a9b-0c1d2e3f4a5").ok());
  EXPECT_FALSE(ParseUuid("8e6f1c2a-3b4d-4e5f-8a9b_0c1d2e3f4a5b").ok());
  EXPECT_FALSE(ParseUuid("g e6f1c2a-3b4d-4e5f-8a9b-0c1d2e3f4a5b").ok());
  EXPECT_EQ(ParseUserGroup("torizon:dialout")->group, "dialout");
  EXPECT_TRUE(ParseUserGroup("build$:users").ok());
  EXPECT_FALSE(ParseUserGroup("-x:y").ok());
  SpawnedSshdSession sshd;
  sshd.config_dir = "/run/rac/";
  EXPECT_EQ(sshd.HostKeyPath(), "/run/rac/host_key_ed25519");
  AgentConfig c;
  c.cwd = "/w";
  EXPECT_EQ(c.Absolute("/abs"), "/abs");
  EXPECT_EQ(c.Absolute("./a"), "/w/a");
  EXPECT_EQ(c.Absolute("a/b"), "/w/a/b");
  EXPECT_EQ(c.Absolute("."), "/w");
}

}  // namespace
}  // namespace porthole::config
