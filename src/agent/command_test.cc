#include "agent/command.h"

#include <gtest/gtest.h>

#include <chrono>

#include "agent/test_ids.h"
#include "core/tuf/rfc3339.h"

namespace porthole::agent {
namespace {

using std::chrono::nanoseconds;

SystemTime At(const char* text) { return tuf::ParseRfc3339(text).value(); }

TEST(CommandIdTest, Forms) {
  struct Row {
    const char* text;
    const char* want;  // nullptr: error
  } rows[] = {
      {kId, kId},
      {"urn:tdx-ota:command:0B61A0C4-3F5E-4C1E-9A8E-5A0D0E7C2F11", kId},
      {"urn:tdx-ota:command:0b61a0c43f5e4c1e9a8e5a0d0e7c2f11", kId},
      {"urn:tdx-ota:command:{0b61a0c4-3f5e-4c1e-9a8e-5a0d0e7c2f11}", kId},
      {"urn:tdx-ota:command:urn:uuid:0b61a0c4-3f5e-4c1e-9a8e-5a0d0e7c2f11",
       kId},
      {"urn:tdx-ota:0b61a0c4-3f5e-4c1e-9a8e-5a0d0e7c2f11", nullptr},
      {"URN:tdx-ota:command:0b61a0c4-3f5e-4c1e-9a8e-5a0d0e7c2f11", nullptr},
      {"0b61a0c4-3f5e-4c1e-9a8e-5a0d0e7c2f11", nullptr},
      {"urn:tdx-ota:command:0b61a0c4-3f5e-4c1e-9a8e-5a0d0e7c2f1", nullptr},
      {"urn:tdx-ota:command:0b61a0c4-3f5e-4c1e-9a8e-5a0d0e7c2f11 ", nullptr},
      {"urn:tdx-ota:command:../../etc/passwd", nullptr},
      {"", nullptr},
  };
  for (const Row& row : rows) {
    Result<std::string> id = ParseCommandId(row.text);
    if (row.want == nullptr) {
      EXPECT_FALSE(id.ok()) << row.text;
    } else {
      ASSERT_TRUE(id.ok()) << row.text << ": " << id.status().message();
      EXPECT_EQ(*id, row.want);
    }
  }
  EXPECT_EQ(ParseCommandId("urn:tdx-ota:0b61").status().message(),
            "command id must have the form urn:tdx-ota:command:<uuid>");
}

TEST(CommandsResponseTest, TheProtocolExample) {
  auto r = ParseCommandsResponse(
      R"({"values":[{"id":"urn:tdx-ota:command:0b61a0c4-3f5e-4c1e-9a8e-5a0d0e7c2f11",
            "name":"restart-service","args":["aktualizr"],
            "created_at":"2025-07-30T16:00:00Z"}]})");
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_TRUE(r->has_value());
  const ReceivedCommand& rc = **r;
  EXPECT_EQ(rc.id, kId);
  ASSERT_TRUE(rc.command.has_value());
  EXPECT_EQ(rc.command->id, kId);
  EXPECT_EQ(rc.command->name, "restart-service");
  EXPECT_EQ(rc.command->args, std::vector<std::string>{"aktualizr"});
  EXPECT_EQ(rc.command->created_at, At("2025-07-30T16:00:00Z"));
}

TEST(CommandsResponseTest, EmptyValuesIsNoCommand) {
  auto r = ParseCommandsResponse(R"({"values":[],"extra":1})");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_value());
}

TEST(CommandsResponseTest, UnknownNameFailsOnlyThatCommand) {
  // RAC fails the whole response (bug 5); porthole hands it on for
  // rejection, and never looks at values[1].
  auto r = ParseCommandsResponse(
      R"({"values":[{"id":"urn:tdx-ota:command:0b61a0c4-3f5e-4c1e-9a8e-5a0d0e7c2f11",
            "name":"self-destruct","args":[],"created_at":"2025-07-30T16:00:00+02:00",
            "priority":3},
           {"broken":true}]})");
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_TRUE((*r)->command.has_value());
  EXPECT_EQ((*r)->command->name, "self-destruct");
  EXPECT_EQ((*r)->command->created_at, At("2025-07-30T14:00:00Z"));
}

TEST(CommandsResponseTest, MalformedCommandWithAnIdIsADefect) {
  struct Row {
    const char* members;
    const char* defect;
  } rows[] = {
      {R"("args":[],"created_at":"2025-07-30T16:00:00Z")",
       "'name' must be a string"},
      {R"("name":7,"args":[],"created_at":"2025-07-30T16:00:00Z")",
       "'name' must be a string"},
      {R"("name":"echo","created_at":"2025-07-30T16:00:00Z")",
       "'args' must be an array of strings"},
      {R"("name":"echo","args":["a",1],"created_at":"2025-07-30T16:00:00Z")",
       "'args' must be an array of strings"},
      {R"("name":"echo","args":"test","created_at":"2025-07-30T16:00:00Z")",
       "'args' must be an array of strings"},
      {R"("name":"echo","args":[])", "'created_at' must be a string"},
      {R"("name":"echo","args":[],"created_at":"yesterday")", "'created_at': "},
  };
  for (const Row& row : rows) {
    std::string body = std::string(R"({"values":[{"id":")") + kId + "\"," +
                       row.members + "}]}";
    auto r = ParseCommandsResponse(body);
    ASSERT_TRUE(r.ok()) << body << ": " << r.status().message();
    EXPECT_EQ((*r)->id, kId);
    EXPECT_FALSE((*r)->command.has_value()) << body;
    EXPECT_EQ((*r)->defect.rfind(row.defect, 0), 0u)
        << body << ": " << (*r)->defect;
  }
}

TEST(CommandsResponseTest, Errors) {
  struct Row {
    const char* body;
    const char* message;
  } rows[] = {
      {"<html>bad gateway</html>", "GET commands: parse error at line 1"},
      {"[]", "GET commands: body must be a JSON object"},
      {"{}", "GET commands: 'values' must be an array"},
      {R"({"values":{"0":{}}})", "GET commands: 'values' must be an array"},
      {R"({"values":["x"]})", "GET commands: values[0] must be an object"},
      {R"({"values":[{"name":"echo"}]})",
       "GET commands: values[0]: missing 'id'"},
      {R"({"values":[{"id":5}]})",
       "GET commands: values[0]: 'id' must be a string"},
      {R"({"values":[{"id":"urn:tdx-ota:0b61a0c4-3f5e-4c1e-9a8e-5a0d0e7c2f11"}]})",
       "GET commands: values[0]: command id must have the form "
       "urn:tdx-ota:command:<uuid>"},
      {R"({"values":[],"values":[]})", "GET commands: duplicate member"},
  };
  for (const Row& row : rows) {
    auto r = ParseCommandsResponse(row.body);
    ASSERT_FALSE(r.ok()) << row.body;
    EXPECT_EQ(r.status().code(), StatusCode::kCorrupt);
    EXPECT_EQ(r.status().message().rfind(row.message, 0), 0u)
        << row.body << ": " << r.status().message();
  }
}

TEST(CommandResultTest, ExactJson) {
  CommandResult ok;
  ok.success = true;
  ok.stdout_text = "test";
  ok.exit_code = 0;
  ok.finished_at = At("2025-07-30T16:00:03.123456789Z");
  EXPECT_EQ(FormatCommandResult(ok),
            R"({"success":true,"stdout":"test","stderr":"","error":null,)"
            R"("exit_code":0,"finished_at":"2025-07-30T16:00:03.123456789Z"})");

  EXPECT_EQ(
      FormatCommandResult(
          RejectedResult({"no remote_commands in remote-sessions"},
                         At("2025-07-30T16:00:03Z"))),
      R"({"success":false,"stdout":"","stderr":"","error":{"message":)"
      R"("invalid command received from server","validation_result":)"
      R"({"InvalidUptaneMetadata":["no remote_commands in remote-sessions"]}},)"
      R"("exit_code":null,"finished_at":"2025-07-30T16:00:03Z"})");

  EXPECT_EQ(
      FormatCommandResult(UnknownOutcomeResult(At("2025-07-30T16:00:03.5Z"))),
      R"({"success":false,"stdout":"unknown","stderr":"unknown","error":)"
      R"("a lock file for the command exists, but no output is available",)"
      R"("exit_code":null,"finished_at":"2025-07-30T16:00:03.500Z"})");

  CommandResult failed =
      ExecutionErrorResult("timed out after 30s", At("2025-07-30T16:00:03Z"));
  failed.exit_code = -2;
  EXPECT_EQ(FormatCommandResult(failed),
            R"({"success":false,"stdout":"","stderr":"","error":)"
            R"("timed out after 30s","exit_code":-2,)"
            R"("finished_at":"2025-07-30T16:00:03Z"})");
}

TEST(CommandResultTest, StringsAreEscapedAsSerdeDoes) {
  CommandResult r;
  r.stdout_text = "q\"b\\s/\b\f\n\r\t\x01\x1f\x7f \xc3\xa9 \xff";
  r.stderr_text = std::string("nul\0end", 7);
  r.finished_at = At("2025-07-30T16:00:03Z");
  EXPECT_EQ(FormatCommandResult(r),
            "{\"success\":false,\"stdout\":\"q\\\"b\\\\s/\\b\\f\\n\\r\\t"
            "\\u0001\\u001f\x7f \xc3\xa9 \xef\xbf\xbd\",\"stderr\":"
            "\"nul\\u0000end\",\"error\":null,\"exit_code\":null,"
            "\"finished_at\":\"2025-07-30T16:00:03Z\"}");
}

TEST(CommandResultTest, TimestampDigitsAreChronoAutoSi) {
  const SystemTime base = At("2025-07-30T16:00:03Z");
  struct Row {
    long long ns;
    const char* want;
  } rows[] = {
      {0, "2025-07-30T16:00:03Z"},
      {100000000, "2025-07-30T16:00:03.100Z"},
      {123000000, "2025-07-30T16:00:03.123Z"},
      {123456000, "2025-07-30T16:00:03.123456Z"},
      {1000, "2025-07-30T16:00:03.000001Z"},
      {1, "2025-07-30T16:00:03.000000001Z"},
      {999999999, "2025-07-30T16:00:03.999999999Z"},
  };
  for (const Row& row : rows) {
    EXPECT_EQ(
        FormatTimestamp(base + std::chrono::duration_cast<SystemTime::duration>(
                                   nanoseconds(row.ns))),
        row.want);
  }
  EXPECT_EQ(FormatTimestamp(At("1969-12-31T23:59:59.5Z")),
            "1969-12-31T23:59:59.500Z");
  // The ends of SystemTime (where ParseRfc3339 saturates) still print, and
  // read back as themselves.
  EXPECT_EQ(FormatTimestamp(SystemTime::min()),
            "1677-09-21T00:12:43.145224192Z");
  EXPECT_EQ(FormatTimestamp(SystemTime::max()),
            "2262-04-11T23:47:16.854775807Z");
  EXPECT_EQ(At("0753-04-21T00:00:00Z"), SystemTime::min());
  EXPECT_EQ(At(FormatTimestamp(SystemTime::min()).c_str()), SystemTime::min());
  EXPECT_EQ(At(FormatTimestamp(SystemTime::max()).c_str()), SystemTime::max());
}

// RAC's record (PROTOCOL.md 5.6) as serde_json's to_string_pretty writes it.
constexpr char kRacRecord[] =
    "{\n"
    "  \"cmd_id\": "
    "\"urn:tdx-ota:command:0b61a0c4-3f5e-4c1e-9a8e-5a0d0e7c2f11\",\n"
    "  \"output\": {\n"
    "    \"success\": true,\n"
    "    \"stdout\": \"test\",\n"
    "    \"stderr\": \"\",\n"
    "    \"error\": null,\n"
    "    \"exit_code\": 0,\n"
    "    \"finished_at\": \"2025-07-30T16:00:03.123456789Z\"\n"
    "  },\n"
    "  \"error\": \"Could not send command result: \"\n"
    "}";

TEST(PendingRecordTest, RacRecordRoundTripsByteForByte) {
  Result<PendingRecord> r = ParsePendingRecord(kRacRecord);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->id, kId);
  EXPECT_TRUE(r->output.success);
  EXPECT_EQ(r->output.stdout_text, "test");
  EXPECT_TRUE(r->output.error.is_null());
  EXPECT_EQ(r->output.exit_code, 0);
  EXPECT_EQ(r->error, "Could not send command result: ");
  EXPECT_EQ(FormatPendingRecord(*r), kRacRecord);
}

TEST(PendingRecordTest, NestedErrorObjectsArePrettyAndSorted) {
  PendingRecord p{kId, RejectedResult({"a", "b"}, At("2025-07-30T16:00:03Z")),
                  std::nullopt};
  p.output.error["validation_result"]["Empty"] = tuf::Json::array();
  p.output.error["validation_result"]["AnObject"] = tuf::Json::object();
  const char kWant[] =
      "{\n"
      "  \"cmd_id\": "
      "\"urn:tdx-ota:command:0b61a0c4-3f5e-4c1e-9a8e-5a0d0e7c2f11\",\n"
      "  \"output\": {\n"
      "    \"success\": false,\n"
      "    \"stdout\": \"\",\n"
      "    \"stderr\": \"\",\n"
      "    \"error\": {\n"
      "      \"message\": \"invalid command received from server\",\n"
      "      \"validation_result\": {\n"
      "        \"AnObject\": {},\n"
      "        \"Empty\": [],\n"
      "        \"InvalidUptaneMetadata\": [\n"
      "          \"a\",\n"
      "          \"b\"\n"
      "        ]\n"
      "      }\n"
      "    },\n"
      "    \"exit_code\": null,\n"
      "    \"finished_at\": \"2025-07-30T16:00:03Z\"\n"
      "  },\n"
      "  \"error\": null\n"
      "}";
  EXPECT_EQ(FormatPendingRecord(p), kWant);
  Result<PendingRecord> back = ParsePendingRecord(kWant);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(*back, p);
}

TEST(PendingRecordTest, OptionalMembersAndUnknownOnes) {
  Result<PendingRecord> r = ParsePendingRecord(
      R"({"cmd_id":"urn:tdx-ota:command:0B61A0C43F5E4C1E9A8E5A0D0E7C2F11",
          "output":{"success":false,"stdout":"","stderr":"x",
                    "finished_at":"2025-07-30T18:00:03+02:00","new":1},
          "later":true})");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->id, kId);
  EXPECT_FALSE(r->output.exit_code.has_value());
  EXPECT_TRUE(r->output.error.is_null());
  EXPECT_FALSE(r->error.has_value());
  EXPECT_EQ(r->output.finished_at, At("2025-07-30T16:00:03Z"));
}

TEST(PendingRecordTest, Errors) {
  const std::string id = std::string("\"cmd_id\":\"") + kId + "\"";
  const std::string out =
      R"("output":{"success":true,"stdout":"","stderr":"","error":null,)"
      R"("exit_code":0,"finished_at":"2025-07-30T16:00:03Z"})";
  struct Row {
    std::string text;
    const char* message;
  } rows[] = {
      {"", "pending record: parse error at line 1"},
      {"[]", "pending record: must be a JSON object"},
      {"{" + out + "}", "pending record: missing 'cmd_id'"},
      {R"({"cmd_id":"x",)" + out + "}",
       "pending record: command id must have the form"},
      {"{" + id + "}", "pending record: missing 'output'"},
      {"{" + id + R"(,"output":[]})",
       "pending record: output: must be an object"},
      {"{" + id + R"(,"output":{"success":1}})",
       "pending record: output: 'success' must be true or false"},
      {"{" + id + R"(,"output":{"success":true,"stdout":""}})",
       "pending record: output: missing 'stderr'"},
      {"{" + id +
           R"(,"output":{"success":true,"stdout":"","stderr":"","exit_code":2147483648,)"
           R"("finished_at":"2025-07-30T16:00:03Z"}})",
       "pending record: output: 'exit_code' must be a 32-bit integer"},
      {"{" + id +
           R"(,"output":{"success":true,"stdout":"","stderr":"","exit_code":0.0,)"
           R"("finished_at":"2025-07-30T16:00:03Z"}})",
       "pending record: output: 'exit_code' must be a 32-bit integer"},
      {"{" + id + R"(,"output":{"success":true,"stdout":"","stderr":""}})",
       "pending record: output: missing 'finished_at'"},
      {"{" + id + "," + out + R"(,"error":5})",
       "pending record: 'error' must be a string"},
      {"{" + id + "," + id + "," + out + "}",
       "pending record: duplicate member"},
  };
  for (const Row& row : rows) {
    Result<PendingRecord> r = ParsePendingRecord(row.text);
    ASSERT_FALSE(r.ok()) << row.text;
    EXPECT_EQ(r.status().code(), StatusCode::kCorrupt);
    EXPECT_EQ(r.status().message().rfind(row.message, 0), 0u)
        << row.text << ": " << r.status().message();
  }
  Result<PendingRecord> min32 = ParsePendingRecord(
      "{" + id +
      R"(,"output":{"success":true,"stdout":"","stderr":"","exit_code":-2147483648,)"
      R"("finished_at":"2025-07-30T16:00:03Z"}})");
  ASSERT_TRUE(min32.ok());
  EXPECT_EQ(min32->output.exit_code, -2147483647 - 1);
}

TEST(RasErrorTest, Parse) {
  auto e = ParseRasError(
      R"({"code":"command_not_found","description":"no such command","x":1})");
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->code, "command_not_found");
  EXPECT_EQ(e->description, "no such command");
  for (const char* bad :
       {"", "command_not_found", R"({"code":"command_not_found"})",
        R"({"description":"x"})", R"({"code":1,"description":"x"})",
        R"(["command_not_found"])"}) {
    EXPECT_FALSE(ParseRasError(bad).has_value()) << bad;
  }
}

TEST(OutputTest, LossyUtf8MatchesRust) {
  const std::string r = "\xef\xbf\xbd";  // U+FFFD
  struct Row {
    std::string in, want;
  } rows[] = {
      {"plain \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80",
       "plain \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"},
      {"\xff", r},
      {"a\x80z", "a" + r + "z"},
      {"\xe2\x82", r},  // truncated: one replacement
      {"\xe2\x82z", r + "z"},
      {"\xf0\x9f\x98", r},
      {"\xe0\x80\x80", r + r + r},  // overlong: each byte
      {"\xc0\xaf", r + r},
      {"\xed\xa0\x80", r + r + r},          // surrogate
      {"\xf4\x90\x80\x80", r + r + r + r},  // above U+10FFFF
      {"\xf5", r},
  };
  for (const Row& row : rows) EXPECT_EQ(LossyUtf8(row.in), row.want);
}

TEST(OutputTest, CapIncludesTheMarkerAndCutsOnACharacterBoundary) {
  EXPECT_EQ(CapOutput("abc", false), "abc");
  EXPECT_EQ(CapOutput("abc", true), "abc[...]");
  std::string exact(kMaxOutputBytes, 'a');
  EXPECT_TRUE(CapOutput(exact, false) == exact);
  std::string capped = CapOutput(exact, true);
  EXPECT_EQ(capped.size(), kMaxOutputBytes);
  EXPECT_TRUE(capped == std::string(kMaxOutputBytes - 5, 'a') + "[...]");
  EXPECT_TRUE(CapOutput(exact + "b", false) == capped);
  // A two-byte character across the cut is dropped whole.
  std::string split(kMaxOutputBytes - 6, 'a');
  split += "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9";
  EXPECT_TRUE(CapOutput(split, false) ==
              std::string(kMaxOutputBytes - 6, 'a') + "[...]");
  // Three bytes of a four-byte character fit, but it is dropped whole.
  std::string four(kMaxOutputBytes - 8, 'a');
  four += "\xf0\x9f\x98\x80\xf0\x9f\x98\x80";
  EXPECT_TRUE(CapOutput(four, true) ==
              std::string(kMaxOutputBytes - 8, 'a') + "[...]");
  // Invalid bytes grow when replaced, and are capped after that.
  std::string bad(kMaxOutputBytes / 2, '\xff');
  std::string out = CapOutput(bad, false);
  EXPECT_LE(out.size(), kMaxOutputBytes);
  EXPECT_EQ(out.substr(out.size() - 8), "\xef\xbf\xbd[...]");
}

TEST(OutputTest, TrimEndWhitespace) {
  struct Row {
    const char* in;
    const char* want;
  } rows[] = {
      {"test\n", "test"},
      {"a b \t\r\n\v\f", "a b"},
      {"a\xc2\xa0", "a"},        // U+00A0
      {"a\xe3\x80\x80\n", "a"},  // U+3000
      {"a\xe2\x80\xa9", "a"},    // U+2029
      {"\xc3\xa9", "\xc3\xa9"},
      {"a\xe2\x80\x8b", "a\xe2\x80\x8b"},  // U+200B is not White_Space
      {" \n ", ""},
      {"", ""},
  };
  for (const Row& row : rows) EXPECT_EQ(TrimEndWhitespace(row.in), row.want);
}

}  // namespace
}  // namespace porthole::agent
