#include "server/config.h"

#include <gtest/gtest.h>

#include <string>

#include "core/base/file.h"
#include "core/base/test_util.h"

namespace porthole::server {
namespace {

constexpr char kFile[] = "/srv/ph/server.toml";

Result<ServerConfig> Parse(const std::string& text) {
  return ParseServerConfig(text, kFile);
}

std::string Error(const std::string& text) {
  auto c = Parse(text);
  EXPECT_FALSE(c.ok()) << text;
  if (c.ok()) return "";
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
  return c.status().message();
}

TEST(ServerConfigTest, MinimalFileGetsDefaults) {
  auto c = Parse("hostname = \"porthole.example.com\"\n");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->file, kFile);
  EXPECT_EQ(c->data_dir, "/srv/ph");  // the file's directory
  EXPECT_EQ(c->hostname, "porthole.example.com");
  EXPECT_EQ(c->device_api.listen, "0.0.0.0");
  EXPECT_EQ(c->device_api.port, 8443);
  EXPECT_EQ(c->operator_api.port, 8444);
  EXPECT_EQ(c->relay.listen.port, 2222);
  EXPECT_EQ(c->RelayPublicHost(), "porthole.example.com");
  EXPECT_EQ(c->relay.port_min, 40000);
  EXPECT_EQ(c->relay.port_max, 49999);
  EXPECT_EQ(c->sessions.default_ttl, config::Duration::Seconds(3600));
  EXPECT_EQ(c->sessions.max_ttl, config::Duration::Seconds(86400));
  EXPECT_EQ(c->policy.expiry, config::Duration::Seconds(30 * 86400));
  EXPECT_EQ(c->policy.renew_before, config::Duration::Seconds(7 * 86400));
  EXPECT_EQ(c->store.backend, "sqlite");
  EXPECT_EQ(c->StorePath(), "/srv/ph/server.db");
}

TEST(ServerConfigTest, EveryKey) {
  auto c = Parse(R"(
data_dir = "/var/lib/ph/"
hostname = "192.0.2.10"
[device_api]
listen = "::"
port = 9443
[operator_api]
listen = "127.0.0.1"
port = 9444
[relay]
listen = "0.0.0.0"
port = 2022
public_host = "relay.example.com"
port_min = 30000
port_max = 30099
[sessions]
default_ttl = "30m"
max_ttl = "2d"
[policy]
expiry = "1d12h"
renew_before = "12h"
[store]
backend = "sqlite"
path = "/data/ph.db"
)");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->data_dir, "/var/lib/ph");
  EXPECT_EQ(c->hostname, "192.0.2.10");
  EXPECT_EQ(c->device_api.listen, "::");
  EXPECT_EQ(c->device_api.port, 9443);
  EXPECT_EQ(c->operator_api.listen, "127.0.0.1");
  EXPECT_EQ(c->operator_api.port, 9444);
  EXPECT_EQ(c->relay.listen.port, 2022);
  EXPECT_EQ(c->RelayPublicHost(), "relay.example.com");
  EXPECT_EQ(c->relay.port_min, 30000);
  EXPECT_EQ(c->relay.port_max, 30099);
  EXPECT_EQ(c->sessions.default_ttl, config::Duration::Seconds(1800));
  EXPECT_EQ(c->sessions.max_ttl, config::Duration::Seconds(2 * 86400));
  EXPECT_EQ(c->policy.expiry, config::Duration::Seconds(36 * 3600));
  EXPECT_EQ(c->policy.renew_before, config::Duration::Seconds(12 * 3600));
  EXPECT_EQ(c->StorePath(), "/data/ph.db");

  // What --check-config prints reads back the same.
  auto back = Parse(FormatServerConfig(*c));
  ASSERT_TRUE(back.ok()) << back.status().message() << "\n"
                         << FormatServerConfig(*c);
  EXPECT_TRUE(back->SameSettings(*c)) << FormatServerConfig(*c);
}

TEST(ServerConfigTest, DefaultsRoundTrip) {
  auto c = Parse("hostname = \"h.example\"\n");
  ASSERT_TRUE(c.ok());
  std::string text = FormatServerConfig(*c);
  auto back = Parse(text);
  ASSERT_TRUE(back.ok()) << back.status().message() << "\n" << text;
  EXPECT_TRUE(back->SameSettings(*c)) << text;
  EXPECT_NE(text.find("expiry = \"30d\"\n"), std::string::npos) << text;
  EXPECT_NE(text.find("# public_host = \"h.example\""), std::string::npos)
      << text;
}

TEST(ServerConfigTest, TheExampleFileIsValid) {
  std::string path =
      std::string(PORTHOLE_SOURCE_DIR) + "/packaging/server.toml";
  auto c = LoadServerConfig(path);
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->hostname, "porthole.example.com");
  EXPECT_EQ(c->data_dir, "/var/lib/porthole-server");
  // Every key it shows commented out is the default.
  auto text = ReadFile(path, 1 << 20);
  ASSERT_TRUE(text.ok());
  std::string uncommented;
  size_t pos = 0;
  while (pos < text->size()) {
    size_t end = text->find('\n', pos);
    if (end == std::string::npos) end = text->size();
    std::string line = text->substr(pos, end - pos);
    pos = end + 1;
    // "# key = value" lines are settings; prose comments have no " = ".
    if (line.starts_with("# ") && line.find(" = ") != std::string::npos &&
        line.find(' ', 2) == line.find(" = ")) {
      line = line.substr(2);
    }
    uncommented += line + "\n";
  }
  auto all = ParseServerConfig(uncommented, path);
  ASSERT_TRUE(all.ok()) << all.status().message() << "\n" << uncommented;
  // public_host is shown as its effective default, the hostname.
  EXPECT_EQ(all->relay.public_host, c->hostname);
  all->relay.public_host.clear();
  EXPECT_TRUE(all->SameSettings(*c)) << uncommented;
}

TEST(ServerConfigTest, HostileFiles) {
  struct Case {
    std::string text;
    std::string error;
  };
  const std::string f = kFile;
  const Case cases[] = {
      {"", f + ": key 'hostname': missing; set the public name devices and "
               "operators use (porthole-server init writes it)"},
      {"hostname = \"h\"\nbogus = 1\n", f + ":2: key 'bogus': unknown key"},
      {"hostname = \"h\"\n[relay]\nprot = 2222\n",
       f + ":3: key 'relay.prot': unknown key"},
      {"hostname = \"h\"\n[relays]\nport = 2222\n",
       f + ":2: key 'relays': unknown key"},
      // The unknown key is named even when an earlier value is bad too.
      {"hostname = \"h\"\n[relay]\nport = 0\nlisten_addr = \"::\"\n",
       f + ":4: key 'relay.listen_addr': unknown key"},
      {"hostname = \"h\"\nrelay = 5\n",
       f + ":2: key 'relay': expected a table"},
      {"hostname = 5\n", f + ":1: key 'hostname': expected a string"},
      {"hostname = \"bad host\"\n",
       f + ":1: key 'hostname': 'bad host' is not a DNS name or an IP "
           "address"},
      {"hostname = \"h\\u0000x\"\n",
       f + ":1: key 'hostname': 'h\\x00x' is not a DNS name or an IP "
           "address"},
      {"hostname = \"h\"\ndata_dir = \"rel/dir\"\n",
       f + ":2: key 'data_dir': 'rel/dir' is not an absolute path"},
      {"hostname = \"h\"\n[device_api]\nport = \"8443\"\n",
       f + ":3: key 'device_api.port': expected an integer"},
      {"hostname = \"h\"\n[device_api]\nport = 0\n",
       f + ":3: key 'device_api.port': 0 is not a port in 1..65535"},
      {"hostname = \"h\"\n[operator_api]\nport = 65536\n",
       f + ":3: key 'operator_api.port': 65536 is not a port in 1..65535"},
      {"hostname = \"h\"\n[operator_api]\nlisten = \"localhost\"\n",
       f + ":3: key 'operator_api.listen': 'localhost' is not an IP address "
           "(e.g. \"0.0.0.0\", \"::\", \"127.0.0.1\")"},
      {"hostname = \"h\"\n[relay]\nport_min = 80\n",
       f + ":3: key 'relay.port_min': 80 is not a port in 1024..65535"},
      {"hostname = \"h\"\n[relay]\nport_min = 45000\nport_max = 44000\n",
       f + ":3: key 'relay.port_min': 45000 is above port_max 44000"},
      {"hostname = \"h\"\n[relay]\nport_max = 39999\n",
       f + ": key 'relay.port_min': 40000 is above port_max 39999"},
      {"hostname = \"h\"\n[relay]\npublic_host = \"-x\"\n",
       f + ":3: key 'relay.public_host': '-x' is not a DNS name or an IP "
           "address"},
      {"hostname = \"h\"\n[sessions]\ndefault_ttl = \"30x\"\n",
       f + ":3: key 'sessions.default_ttl': '30x' is not a duration (write "
           "e.g. \"30d\", \"1d12h\", \"1h30m\", \"90s\")"},
      {"hostname = \"h\"\n[sessions]\ndefault_ttl = 3600\n",
       f + ":3: key 'sessions.default_ttl': expected a string"},
      {"hostname = \"h\"\n[sessions]\nmax_ttl = \"0s\"\n",
       f + ":3: key 'sessions.max_ttl': must be longer than 0s"},
      {"hostname = \"h\"\n[sessions]\ndefault_ttl = \"2d\"\n",
       f + ":3: key 'sessions.default_ttl': 2d is longer than max_ttl 1d"},
      {"hostname = \"h\"\n[policy]\nrenew_before = \"30d\"\n",
       f + ":3: key 'policy.renew_before': 30d must be shorter than expiry "
           "30d"},
      {"hostname = \"h\"\n[policy]\nexpiry = \"1d\"\n",
       f + ": key 'policy.renew_before': 7d must be shorter than expiry 1d"},
      {"hostname = \"h\"\n[store]\nbackend = \"postgres\"\n",
       f + ":3: key 'store.backend': unknown backend 'postgres' (this build "
           "has \"sqlite\")"},
      {"hostname = \"h\"\n[store]\npath = \"\"\n",
       f + ":3: key 'store.path': '' is not a path"},
      {"hostname = \"h\"\nhostname = \"g\"\n",
       f + ":2:12: Error while parsing key-value pair: cannot redefine "
           "existing string 'hostname'"},
  };
  for (const Case& c : cases) EXPECT_EQ(Error(c.text), c.error) << c.text;
}

TEST(ServerConfigTest, MissingAndUnreadableFiles) {
  TempDir dir;
  auto missing = LoadServerConfig(dir.Join("server.toml"));
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(),
            dir.Join("server.toml") +
                ": no such file (porthole-server init creates it)");
  ASSERT_TRUE(
      AtomicReplace(dir.Join("big.toml"), std::string(2 << 20, '#')).ok());
  EXPECT_FALSE(LoadServerConfig(dir.Join("big.toml")).ok());
  ASSERT_TRUE(
      AtomicReplace(dir.Join("ok.toml"), "hostname = \"h.example\"\n").ok());
  auto ok = LoadServerConfig(dir.Join("ok.toml"));
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->data_dir, dir.path());
}

TEST(ServerConfigTest, Durations) {
  struct Case {
    const char* text;
    uint64_t secs;
    const char* formatted;
  };
  const Case good[] = {
      {"30d", 30 * 86400, "30d"},
      {"1d12h", 36 * 3600, "1d12h"},
      {"1h30m", 5400, "1h30m"},
      {"90s", 90, "1m30s"},
      {"7d", 7 * 86400, "7d"},
      {"0d1s", 1, "1s"},
      {"24h", 86400, "1d"},
      {"999999999d", 999999999ull * 86400, "999999999d"},
      // Found by server_config_fuzz: a long text-form duration formats
      // with many days, which must read back.
      {"1515115111500m115111500ms", 90906906805111ull,
       "1052163273d4h58m31s500ms"},
      {"213503982334601d", 213503982334601ull * 86400, "213503982334601d"},
  };
  for (const Case& c : good) {
    auto d = ParseConfigDuration(c.text);
    ASSERT_TRUE(d.ok()) << c.text << ": " << d.status().message();
    EXPECT_EQ(d->secs, c.secs) << c.text;
    EXPECT_EQ(FormatConfigDuration(*d), c.formatted) << c.text;
    EXPECT_EQ(*ParseConfigDuration(FormatConfigDuration(*d)), *d);
  }
  EXPECT_EQ(FormatConfigDuration({1, 500000000}), "1s500ms");
  EXPECT_EQ(FormatConfigDuration({86401, 5}), "1d1s5ns");
  for (const char* bad : {"", "d", "1dd", "x1d", "1d25h", "1d1d", "-1d", "1 d",
                          "1D", "213503982334602d", "1d-1h", "30", "1h1d"}) {
    auto d = ParseConfigDuration(bad);
    EXPECT_FALSE(d.ok()) << bad;
    EXPECT_EQ(d.status().message(),
              "'" + std::string(bad) +
                  "' is not a duration (write e.g. \"30d\", \"1d12h\", "
                  "\"1h30m\", \"90s\")");
  }
}

}  // namespace
}  // namespace porthole::server
