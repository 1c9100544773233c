#include "agent/dbus/agent_object.h"

#include <gtest/gtest.h>

namespace porthole::agent {
namespace {

AgentStatus SampleStatus() {
  AgentStatus s;
  s.session_state = "active";
  s.relay = "ras.example.com:22";
  s.mode = "spawned_sshd";
  s.last_poll_time = "2024-05-01T10:00:00Z";
  s.last_poll_result = "session";
  s.last_error = "über: none";
  s.pending_commands = 7;
  return s;
}

TEST(AgentObjectTest, StatusDictRoundTrip) {
  StatusDict dict = StatusToDict(SampleStatus());
  ASSERT_EQ(dict.size(), 7u);
  EXPECT_EQ(dict.at("SessionState").get<std::string>(), "active");
  EXPECT_EQ(dict.at("PendingCommands").peekValueType(), "u");
  auto back = StatusFromDict(dict);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(*back, SampleStatus());
}

TEST(AgentObjectTest, MissingAndUnknownKeysAreFine) {
  StatusDict dict;
  dict.emplace("Relay", sdbus::Variant(std::string("r:1")));
  dict.emplace("FutureField", sdbus::Variant(int32_t{3}));
  auto s = StatusFromDict(dict);
  ASSERT_TRUE(s.ok()) << s.status().message();
  AgentStatus want;
  want.relay = "r:1";
  EXPECT_EQ(*s, want);
}

TEST(AgentObjectTest, WrongTypeIsCorrupt) {
  struct Case {
    const char* key;
    sdbus::Variant value;
    const char* error;
  };
  const Case kCases[] = {
      {"Relay", sdbus::Variant(uint32_t{1}),
       "GetStatus: 'Relay' is 'u', not 's'"},
      {"PendingCommands", sdbus::Variant(int32_t{1}),
       "GetStatus: 'PendingCommands' is 'i', not 'u'"},
      {"PendingCommands", sdbus::Variant(std::string("1")),
       "GetStatus: 'PendingCommands' is 's', not 'u'"},
  };
  for (const Case& c : kCases) {
    StatusDict dict;
    dict.emplace(c.key, c.value);
    auto s = StatusFromDict(dict);
    ASSERT_FALSE(s.ok()) << c.key;
    EXPECT_EQ(s.status().code(), StatusCode::kCorrupt);
    EXPECT_EQ(s.status().message(), c.error);
  }
}

}  // namespace
}  // namespace porthole::agent
