#include "agent/dbus/tzn_message.h"

#include <gtest/gtest.h>

#include <string>

namespace porthole::agent {
namespace {

struct Case {
  const char* command;
  std::string args;
  const char* error;  // "" for OK
};

TEST(TznMessageTest, Table) {
  const Case kCases[] = {
      // RAC: any JSON value is fine as args.
      {"PollRasNow", "{}", ""},
      {"PollRasNow", "null", ""},
      {"PollRasNow", R"({"ras":"poll","n":[1,2.5,true]})", ""},
      {"PollRasNow", " \"text\"\n", ""},
      {"PollRasNow", "0", ""},
      // The command is case-sensitive and exact.
      {"pollrasnow", "{}",
       "unknown command 'pollrasnow' (only PollRasNow is acted on)"},
      {"PollRasNow ", "{}",
       "unknown command 'PollRasNow ' (only PollRasNow is acted on)"},
      {"", "{}", "unknown command '' (only PollRasNow is acted on)"},
      {"Reboot", "not json either",
       "unknown command 'Reboot' (only PollRasNow is acted on)"},
      {"Bad\ncommand", "{}",
       "unknown command 'Bad' (only PollRasNow is acted on)"},
      {"\x01\x7f", "{}",
       "unknown command '?"
       "?' (only PollRasNow is acted on)"},
      // args must be one JSON value.
      {"PollRasNow", "",
       "PollRasNow args are not JSON: parse error at line 1, column 1: "
       "syntax error while parsing value - unexpected end of input; expected "
       "'[', '{', or a literal"},
      {"PollRasNow", "{bad",
       "PollRasNow args are not JSON: parse error at line 1, column 2: "
       "syntax error while parsing object key - invalid literal; last read: "
       "'{b'; expected string literal"},
      {"PollRasNow", "{} {}",
       "PollRasNow args are not JSON: parse error at line 1, column 4: "
       "syntax error while parsing value - unexpected '{'; expected end of "
       "input"},
      // Stricter than RAC (tzn_message.h): repeated member names.
      {"PollRasNow", R"({"a":1,"a":2})",
       "PollRasNow args are not JSON: duplicate member 'a'"},
  };
  for (const Case& c : kCases) {
    SCOPED_TRACE(std::string(c.command) + " / " + c.args);
    Status s = porthole::agent::CheckTznMessage(c.command, c.args);
    if (*c.error == '\0') {
      EXPECT_TRUE(s.ok()) << s.message();
    } else {
      EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
      EXPECT_EQ(s.message(), c.error);
    }
  }
}

TEST(TznMessageTest, DeepNestingIsRefused) {
  std::string deep(65, '[');
  deep += std::string(65, ']');
  EXPECT_FALSE(CheckTznMessage("PollRasNow", deep).ok());
  std::string ok(64, '[');
  ok += std::string(64, ']');
  EXPECT_TRUE(CheckTznMessage("PollRasNow", ok).ok());
}

}  // namespace
}  // namespace porthole::agent
