#include "server/relay/table_backend.h"

#include <gtest/gtest.h>

namespace porthole::server::relay {
namespace {

using namespace std::chrono_literals;

constexpr char kA[] = "0f8fad5b-d9cb-469f-a165-70867728950e";
constexpr char kB[] = "7c9e6679-7425-40de-944b-e07fc1f90ae7";

std::string Key(const char* comment = "k") {
  return std::string(
             "ssh-ed25519 "
             "AAAAC3NzaC1lZDI1NTE5AAAAIChf7DA+rEMZR/"
             "3PKkR8g7Mdv466SgkdDCDzGcrHb/gB ") +
         comment;
}

// A good table with `devices` / `sessions` replaced when given.
std::string Doc(const std::string& devices, const std::string& sessions) {
  return "{\"devices\": [" + devices + "], \"sessions\": [" + sessions + "]}";
}
std::string Dev(const std::string& id = kA, const std::string& name = "dev-7",
                const std::string& key = "\"" + Key() + "\"") {
  return "{\"id\": \"" + id + "\", \"name\": \"" + name +
         "\", \"key\": " + key + "}";
}
std::string Sess(const std::string& id = "s1", const std::string& dev = kA,
                 const std::string& port = "40001",
                 const std::string& keys = "[\"" + Key() + "\"]",
                 const std::string& expires = "\"2030-01-01T00:00:00Z\"") {
  return "{\"id\": \"" + id + "\", \"device\": \"" + dev +
         "\", \"port\": " + port + ", \"operator_keys\": " + keys +
         ", \"expires\": " + expires + "}";
}

TEST(TableBackendTest, ParsesAndAnswers) {
  auto t = ParseTable(
      Doc(Dev() + "," + Dev(kB, "dev-8", "null"),
          Sess() + "," +
              Sess("s2", kB, "40002", "[]", "\"2000-01-01T00:00:00Z\"")),
      "t.json");
  ASSERT_TRUE(t.ok()) << t.status().message();
  ASSERT_EQ(t->devices.size(), 2u);
  EXPECT_FALSE(t->devices[1].key.has_value());
  FakeClock clock(std::chrono::sys_days(std::chrono::year(2025) /
                                        std::chrono::January / 1));
  std::vector<RelayEvent> seen;
  TableBackend b(clock, [&](const RelayEvent& e) { seen.push_back(e); });
  b.Replace(*t);
  auto key = keys::ParsePublicKeyLine(Key());
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(b.DeviceKey(kA), *key);
  EXPECT_FALSE(b.DeviceKey(kB).has_value());
  EXPECT_FALSE(b.DeviceKey("nope").has_value());
  auto live = b.LiveSessionOfDevice(kA);
  ASSERT_TRUE(live);
  EXPECT_EQ(live->session_id, "s1");
  EXPECT_EQ(live->device_name, "dev-7");
  EXPECT_EQ(live->reverse_port, 40001);
  EXPECT_FALSE(b.LiveSessionOfDevice(kB));  // expired
  EXPECT_EQ(b.LiveSessionsForOperatorKey(*key).size(), 1u);
  EXPECT_EQ(b.ResolveDevice("dev-7"), std::optional<std::string>(kA));
  EXPECT_EQ(b.ResolveDevice("0F8FAD5B-D9CB-469F-A165-70867728950E"),
            std::optional<std::string>(kA));
  EXPECT_FALSE(b.ResolveDevice("DEV-7"));
  clock.Set(std::chrono::sys_days(std::chrono::year(2030) /
                                  std::chrono::January / 1));
  EXPECT_FALSE(b.LiveSessionOfDevice(kA));  // expires is exclusive
  EXPECT_TRUE(b.LiveSessionsForOperatorKey(*key).empty());
  b.Report(RelayEvent{});
  EXPECT_EQ(seen.size(), 1u);
}

TEST(TableBackendTest, HostileTables) {
  struct Case {
    std::string doc, error;
  };
  const Case cases[] = {
      {"", "t.json: parse error at line 1, column 1"},
      {"[]", "t.json: must be an object"},
      {"{\"devices\": []}", "t.json: missing member 'sessions'"},
      {"{\"devices\": [], \"sessions\": [], \"x\": 1}",
       "t.json: unknown member 'x'"},
      {"{\"devices\": {}, \"sessions\": []}",
       "t.json: devices and sessions must be arrays"},
      {"{\"devices\": [], \"devices\": [], \"sessions\": []}",
       "t.json: duplicate"},
      {Doc("1", ""), "t.json: devices[0]: must be an object"},
      {Doc("{\"id\": \"" + std::string(kA) + "\"}", ""),
       "t.json: devices[0]: missing member 'name'"},
      {Doc(Dev("not-a-uuid"), ""),
       "t.json: devices[0].id: 'not-a-uuid' is not a UUID"},
      {Doc(Dev(kA, ""), ""),
       "t.json: devices[0].name: must be non-empty and not a UUID"},
      {Doc(Dev(kA, kB), ""),
       "t.json: devices[0].name: must be non-empty and not a UUID"},
      {Doc(Dev(kA, "d", "\"ssh-ed25519 AAAA\""), ""),
       "t.json: devices[0].key: truncated key blob"},
      {Doc(Dev(kA, "d", "7"), ""),
       "t.json: devices[0].key: must be a string or null"},
      {Doc(Dev() + "," + Dev(), ""),
       std::string("t.json: devices[1].id: duplicate ") + kA},
      {Doc(Dev() + "," + Dev(kB), ""),
       "t.json: devices[1].name: duplicate 'dev-7'"},
      {Doc(Dev(), Sess("s1", kB)),
       std::string("t.json: sessions[0].device: no device ") + kB},
      {Doc(Dev(), Sess("s1", kA, "0")),
       "t.json: sessions[0].port: 0 is not a port (1..65535)"},
      {Doc(Dev(), Sess("s1", kA, "65536")),
       "t.json: sessions[0].port: 65536 is not a port (1..65535)"},
      {Doc(Dev(), Sess("s1", kA, "-1")),
       "t.json: sessions[0].port: -1 is not a port (1..65535)"},
      {Doc(Dev(), Sess("s1", kA, "1.5")),
       "t.json: sessions[0].port: must be an integer"},
      {Doc(Dev(), Sess("s1", kA, "\"22\"")),
       "t.json: sessions[0].port: must be an integer"},
      {Doc(Dev(), Sess("s1", kA, "1", "\"k\"")),
       "t.json: sessions[0].operator_keys: must be an array"},
      {Doc(Dev(), Sess("s1", kA, "1", "[1]")),
       "t.json: sessions[0].operator_keys[0]: must be a string"},
      {Doc(Dev(), Sess("s1", kA, "1", "[\"x\"]")),
       "t.json: sessions[0].operator_keys[0]: unknown key type 'x'"},
      {Doc(Dev(), Sess("s1", kA, "1", "[]", "\"tomorrow\"")),
       "t.json: sessions[0].expires: "},
      {Doc(Dev(), Sess("s1", kA, "1", "[]", "5")),
       "t.json: sessions[0].expires: must be a string"},
      {Doc(Dev(), Sess() + "," + Sess()),
       "t.json: sessions[1].id: duplicate 's1'"},
      {Doc(Dev(), Sess() + "," + Sess("s2")),
       "t.json: sessions[1].port: duplicate 40001"},
      {Doc(Dev(), "{\"id\": \"s\"}"),
       "t.json: sessions[0]: missing member 'device'"},
  };
  for (const Case& c : cases) {
    auto t = ParseTable(c.doc, "t.json");
    ASSERT_FALSE(t.ok()) << c.doc;
    EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(t.status().message().rfind(c.error, 0), 0u)
        << "doc: " << c.doc << "\n got: " << t.status().message()
        << "\nwant: " << c.error;
  }
}

TEST(TableBackendTest, LoadTableNamesTheFile) {
  auto t = LoadTable("/nonexistent/table.json");
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("/nonexistent/table.json"),
            std::string::npos);
}

}  // namespace
}  // namespace porthole::server::relay
