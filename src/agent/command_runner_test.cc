#include "agent/command_runner.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <unistd.h>

#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "agent/test_ids.h"
#include "core/base/file.h"
#include "core/base/test_util.h"
#include "core/tuf/rfc3339.h"

namespace porthole::agent {
namespace {

constexpr char kCommandsUrl[] = "https://ras.example/ras/commands";

std::string ResultUrl(const std::string& id) {
  return "https://ras.example/ras/commands/" + id + "/result";
}

// Canned answers by method and URL, in order; every request is recorded.
// A request with no answer queued fails like a dead network.
class FakeHttp : public http::HttpClient {
 public:
  Result<http::HttpResponse> Send(const http::HttpRequest& r) override {
    requests.push_back(r);
    auto& queue = answers[r.method + " " + r.url];
    if (queue.empty()) return Status::Unavailable("no answer queued");
    Result<http::HttpResponse> a = std::move(queue.front());
    queue.pop_front();
    return a;
  }
  void Answer(const std::string& method, const std::string& url, long status,
              std::string body = "") {
    http::HttpResponse r;
    r.status = status;
    r.body = std::move(body);
    answers[method + " " + url].push_back(std::move(r));
  }
  void Get(std::string body, long status = 200) {
    Answer("GET", kCommandsUrl, status, std::move(body));
  }
  void Post(const std::string& id, long status, std::string body = "") {
    Answer("POST", ResultUrl(id), status, std::move(body));
  }
  size_t Count(const std::string& method, const std::string& url) const {
    size_t n = 0;
    for (const auto& r : requests) n += r.method == method && r.url == url;
    return n;
  }
  std::vector<std::string> Posts() const {
    std::vector<std::string> bodies;
    for (const auto& r : requests) {
      if (r.method == "POST") bodies.push_back(r.body);
    }
    return bodies;
  }
  std::map<std::string, std::deque<Result<http::HttpResponse>>> answers;
  std::vector<http::HttpRequest> requests;
};

std::string CommandBody(const std::string& id, const std::string& name,
                        const std::string& args_json) {
  return R"({"values":[{"id":")" + id + R"(","name":")" + name +
         R"(","args":)" + args_json +
         R"(,"created_at":"2025-07-30T16:00:00Z"}]})";
}
const std::string kEchoTest = CommandBody(kId, "echo", R"(["test"])");
constexpr char kNoCommands[] = R"({"values":[]})";

// RAC's metadata stub: restart-service [aktualizr] and echo [test].
constexpr char kRunnerPolicy[] =
    R"({"allowed_commands":{"restart-service":{"args":["aktualizr"]},
                            "echo":{"args":["test"]}},"version":"v1alpha"})";

constexpr char kNow[] = "2025-07-30T16:00:03.123456789Z";
const std::string kEchoResult =
    std::string(R"({"success":true,"stdout":"test","stderr":"","error":null,)"
                R"("exit_code":0,"finished_at":")") +
    kNow + "\"}";

size_t Lines(const std::string& path) {
  std::ifstream in(path);
  size_t n = 0;
  for (std::string line; std::getline(in, line);) ++n;
  return n;
}

class CommandRunnerTest : public ::testing::Test {
 protected:
  CommandRunnerTest()
      : config_(config::ParseAgentConfig(
                    R"(
[torizon]
url = "https://ras.example/ras/"
server_cert_path = "ca.pem"
client_cert_path = "c.pem"
client_key_path = "k.pem"
[device]
ssh_private_key_path = "key"
commands_dir = ")" + tmp_.Join("commands") +
                        R"("
commands_timeout = "1s"
[device.session.embedded]
)",
                    "agent.toml")
                    .value()) {
    // Every run of any command leaves a line in runs_.
    lines_.echo = {"sh", "-c", "echo run >> " + runs_ + "; echo \"$@\"", "sh"};
    lines_.reboot = {"sh", "-c", "echo run >> " + runs_};
    lines_.restart_service = {"sh", "-c", "echo run >> " + runs_ + "; exit 0",
                              "sh", "{service}"};
    policy_ = kRunnerPolicy;
  }

  CommandRunner& Runner() {
    if (!runner_) {
      runner_ = std::make_unique<CommandRunner>(
          config_, &http_,
          [this]() -> tuf::ErrorOr<tuf::VerifiedMetadata> {
            ++metadata_loads_;
            if (!metadata_error_.ok()) return metadata_error_;
            tuf::VerifiedMetadata m;
            m.remote_sessions.version = 1;
            if (policy_ != nullptr) {
              m.remote_sessions.remote_commands =
                  tuf::ParseJson(policy_).value();
            }
            return m;
          },
          lines_, clock_);
    }
    return *runner_;
  }
  std::string Dir() const { return tmp_.Join("commands"); }
  std::string RecordPath(const std::string& id) const {
    return Dir() + "/" + id + ".cmd";
  }
  size_t Runs() const { return Lines(runs_); }
  std::set<std::string> Pending() const {
    std::set<std::string> ids;
    for (const std::string& f : FilesIn(Dir())) {
      EXPECT_EQ(f.substr(f.size() - 4), ".cmd") << "stray file " << f;
      ids.insert(f.substr(0, f.size() - 4));
    }
    return ids;
  }
  void WriteRecord(const std::string& id, const std::string& text) {
    ASSERT_TRUE(MakeDirs(Dir(), 0700).ok());
    std::ofstream(RecordPath(id), std::ios::binary) << text;
  }

  TempDir tmp_;
  const std::string runs_ = tmp_.Join("runs");
  config::AgentConfig config_;
  FakeHttp http_;
  FakeClock clock_{tuf::ParseRfc3339(kNow).value()};
  CommandLines lines_;
  const char* policy_;
  tuf::Error metadata_error_;
  int metadata_loads_ = 0;
  std::unique_ptr<CommandRunner> runner_;
};

// RAC's event_loop.rs tests (PROTOCOL.md 10.1), with their exact counts.
struct RacPoll {
  std::string get;                  // GET commands body (200)
  std::vector<long> post_statuses;  // answers to this poll's POSTs
  size_t gets, posts, runs;         // this poll's requests and executions
  std::set<std::string> pending;    // after the poll
};
struct RacCase {
  const char* name;
  bool pending_before;  // a pending result for kId2 exists
  std::vector<RacPoll> polls;
};

class RacEventLoopTest : public CommandRunnerTest,
                         public ::testing::WithParamInterface<RacCase> {};

TEST_P(RacEventLoopTest, ExactCalls) {
  const RacCase& c = GetParam();
  if (c.pending_before) {
    PendingRecord p{kId2, UnknownOutcomeResult(clock_.Now()), "down"};
    p.output.stdout_text = "earlier";
    WriteRecord(kId2, FormatPendingRecord(p));
  }
  size_t gets = 0, posts = 0, runs = 0;
  for (const RacPoll& poll : c.polls) {
    http_.Get(poll.get);
    for (long status : poll.post_statuses) {
      // Answers for whichever id is posted.
      http_.Post(kId, status);
      http_.Post(kId2, status);
    }
    (void)Runner().PollOnce();
    const size_t all_gets = http_.Count("GET", kCommandsUrl);
    const size_t all_posts = http_.Posts().size();
    EXPECT_EQ(all_gets - gets, poll.gets);
    EXPECT_EQ(all_posts - posts, poll.posts);
    EXPECT_EQ(Runs() - runs, poll.runs);
    EXPECT_EQ(Pending(), poll.pending);
    gets = all_gets;
    posts = all_posts;
    runs = Runs();
    http_.answers.clear();
  }
}

INSTANTIATE_TEST_SUITE_P(
    Rac, RacEventLoopTest,
    ::testing::Values(
        RacCase{"success", false, {{kEchoTest, {200}, 1, 1, 1, {}}}},
        RacCase{"invalid_uptane_metadata",
                false,
                {{CommandBody(kId, "reboot", "[]"), {200}, 1, 1, 0, {}}}},
        RacCase{"no_commands", false, {{kNoCommands, {}, 1, 0, 0, {}}}},
        RacCase{
            "send_pending_results", true, {{kNoCommands, {200}, 1, 1, 0, {}}}},
        RacCase{"failed_to_send_result",
                false,
                {{kEchoTest, {500}, 1, 1, 1, {kId}}}},
        RacCase{"retry_after_server_down",
                false,
                {{kEchoTest, {500}, 1, 1, 1, {kId}},
                 {kNoCommands, {200}, 1, 1, 0, {}}}},
        RacCase{"not_executed_when_pending_result_exists",
                false,
                {{kEchoTest, {500}, 1, 1, 1, {kId}},
                 {kEchoTest, {500}, 1, 1, 0, {kId}}}}),
    [](const auto& row) { return std::string(row.param.name); });

TEST_F(CommandRunnerTest, SuccessPostsTheExactResult) {
  http_.Get(kEchoTest);
  http_.Post(kId, 200);
  ASSERT_TRUE(Runner().PollOnce().ok());
  ASSERT_EQ(http_.requests.size(), 2u);
  EXPECT_EQ(http_.requests[0].method, "GET");
  EXPECT_EQ(http_.requests[1].url, ResultUrl(kId));
  EXPECT_EQ(http_.requests[1].body, kEchoResult);
  EXPECT_TRUE(http_.requests[1].json_body);
  EXPECT_EQ(FilesIn(Dir()), std::set<std::string>{});
  EXPECT_EQ(Runner().PendingCount(), 0u);
}

TEST_F(CommandRunnerTest, BuiltinEchoByDefault) {
  lines_ = CommandLines();
  http_.Get(kEchoTest);
  http_.Post(kId, 200);
  ASSERT_TRUE(Runner().PollOnce().ok());
  EXPECT_EQ(http_.Posts(), std::vector<std::string>{kEchoResult});
}

TEST_F(CommandRunnerTest, RejectionHasRacsErrorAndIsNotRun) {
  const std::string kWant =
      std::string(R"({"success":false,"stdout":"","stderr":"","error":)"
                  R"({"message":"invalid command received from server",)"
                  R"("validation_result":{"InvalidUptaneMetadata":[)") +
      "\"command `reboot` is not in remote-sessions metadata; allowed "
      "commands are: `echo`,`restart-service`\"" +
      R"(]}},"exit_code":null,"finished_at":")" + kNow + "\"}";
  http_.Get(CommandBody(kId, "reboot", "[]"));
  http_.Post(kId, 200);
  ASSERT_TRUE(Runner().PollOnce().ok());
  EXPECT_EQ(http_.Posts(), std::vector<std::string>{kWant});
  EXPECT_EQ(Runs(), 0u);
  EXPECT_TRUE(Pending().empty());
}

TEST_F(CommandRunnerTest, NoRemoteCommandsIsARejection) {
  policy_ = nullptr;
  http_.Get(kEchoTest);
  http_.Post(kId, 200);
  ASSERT_TRUE(Runner().PollOnce().ok());
  EXPECT_EQ(
      http_.Posts(),
      std::vector<std::string>{
          std::string(R"({"success":false,"stdout":"","stderr":"","error":)"
                      R"({"message":"invalid command received from server",)"
                      R"("validation_result":{"InvalidUptaneMetadata":)"
                      R"(["no remote_commands in remote-sessions"]}},)"
                      R"("exit_code":null,"finished_at":")") +
          kNow + "\"}"});
  EXPECT_EQ(Runs(), 0u);
}

TEST_F(CommandRunnerTest, UnknownNameRejectsOnlyThatCommand) {
  http_.Get(R"({"values":[{"id":")" + std::string(kId) +
            R"(","name":"self-destruct","args":[],)"
            R"("created_at":"2025-07-30T16:00:00Z"},{"id":")" +
            kId2 +
            R"(","name":"echo","args":["test"],)"
            R"("created_at":"2025-07-30T16:00:00Z"}]})");
  http_.Post(kId, 200);
  ASSERT_TRUE(Runner().PollOnce().ok());
  ASSERT_EQ(http_.Posts().size(), 1u);
  EXPECT_NE(
      http_.Posts()[0].find(
          R"("InvalidUptaneMetadata":["unknown command `self-destruct`"])"),
      std::string::npos)
      << http_.Posts()[0];
  // The next command is not blocked.
  http_.Get(CommandBody(kId2, "echo", R"(["test"])"));
  http_.Post(kId2, 200);
  ASSERT_TRUE(Runner().PollOnce().ok());
  EXPECT_EQ(Runs(), 1u);
  EXPECT_EQ(http_.requests.back().url, ResultUrl(kId2));
}

TEST_F(CommandRunnerTest, UnknownAllowedCommandsKeyIsIgnored) {
  policy_ = R"({"allowed_commands":{"factory-reset":{"args":["now"]},
                                    "echo":{"args":["test"]}}})";
  http_.Get(kEchoTest);
  http_.Post(kId, 200);
  ASSERT_TRUE(Runner().PollOnce().ok());
  EXPECT_EQ(Runs(), 1u);
  EXPECT_EQ(http_.Posts(), std::vector<std::string>{kEchoResult});
}

TEST_F(CommandRunnerTest, MalformedCommandIsRejectedById) {
  http_.Get(R"({"values":[{"id":")" + std::string(kId) +
            R"(","name":"echo","args":"test"}]})");
  http_.Post(kId, 200);
  ASSERT_TRUE(Runner().PollOnce().ok());
  ASSERT_EQ(http_.Posts().size(), 1u);
  EXPECT_NE(http_.Posts()[0].find(
                "[\"malformed command: 'args' must be an array of strings\"]"),
            std::string::npos)
      << http_.Posts()[0];
  EXPECT_EQ(metadata_loads_, 0);
  EXPECT_EQ(Runs(), 0u);
}

TEST_F(CommandRunnerTest, RejectionNotDeliveredIsValidatedAgain) {
  http_.Get(CommandBody(kId, "reboot", "[]"));
  http_.Post(kId, 503);
  Status s = Runner().PollOnce();
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_EQ(s.message(), "rejection of " + std::string(kId) +
                             " not delivered: POST " + ResultUrl(kId) +
                             ": HTTP 503");
  EXPECT_TRUE(Pending().empty());  // as RAC: not persisted
  http_.Get(CommandBody(kId, "reboot", "[]"));
  http_.Post(kId, 200);
  EXPECT_TRUE(Runner().PollOnce().ok());
  EXPECT_EQ(metadata_loads_, 2);
  EXPECT_EQ(http_.Posts().size(), 2u);
  EXPECT_EQ(Runs(), 0u);
}

TEST_F(CommandRunnerTest, MetadataFailureIsNotARejection) {
  metadata_error_ = tuf::Error(tuf::ErrorCode::kFetchFailed,
                               "remote-sessions.json: HTTP 502");
  http_.Get(kEchoTest);
  Status s = Runner().PollOnce();
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_EQ(s.message(), "command " + std::string(kId) +
                             " not validated: remote-sessions.json: HTTP 502");
  EXPECT_TRUE(http_.Posts().empty());
  EXPECT_EQ(Runs(), 0u);
  EXPECT_TRUE(Pending().empty());

  metadata_error_ = tuf::Error(tuf::ErrorCode::kThresholdNotMet, "bad sig");
  http_.Get(kEchoTest);
  EXPECT_EQ(Runner().PollOnce().code(), StatusCode::kCorrupt);
  EXPECT_TRUE(http_.Posts().empty());

  // Seen again at the next poll, once the metadata verifies.
  metadata_error_ = tuf::Error();
  http_.Get(kEchoTest);
  http_.Post(kId, 200);
  EXPECT_TRUE(Runner().PollOnce().ok());
  EXPECT_EQ(Runs(), 1u);
}

TEST_F(CommandRunnerTest, GetFailures) {
  http_.Get("not found", 404);
  Status s = Runner().PollOnce();
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_EQ(s.message(),
            "GET https://ras.example/ras/commands: HTTP 404: not found");
  http_.Get("<html>", 200);
  EXPECT_EQ(Runner().PollOnce().code(), StatusCode::kCorrupt);
  EXPECT_EQ(Runner().PollOnce().message(), "no answer queued");
  EXPECT_TRUE(http_.Posts().empty());
}

TEST_F(CommandRunnerTest, PendingResultsAreFlushedBeforeTheNextGet) {
  PendingRecord a{kId, UnknownOutcomeResult(clock_.Now()), "x"};
  PendingRecord b = a;
  b.id = kId2;
  b.output.stdout_text = "second";
  WriteRecord(kId, FormatPendingRecord(a));
  WriteRecord(kId2, FormatPendingRecord(b));
  http_.Post(kId, 200);
  http_.Post(kId2, 200);
  http_.Get(kNoCommands);
  ASSERT_TRUE(Runner().PollOnce().ok());
  ASSERT_EQ(http_.requests.size(), 3u);
  EXPECT_EQ(http_.requests[0].url, ResultUrl(kId));
  EXPECT_EQ(http_.requests[0].body, FormatCommandResult(a.output));
  EXPECT_EQ(http_.requests[1].url, ResultUrl(kId2));
  EXPECT_EQ(http_.requests[1].body, FormatCommandResult(b.output));
  EXPECT_EQ(http_.requests[2].url, kCommandsUrl);
  EXPECT_TRUE(Pending().empty());
}

TEST_F(CommandRunnerTest, MoreThanTenPendingAreAllFlushed) {
  std::vector<std::string> ids;
  for (int i = 0; i < 12; ++i) {
    char id[64];
    std::snprintf(id, sizeof id,
                  "urn:tdx-ota:command:%08d-3f5e-4c1e-9a8e-5a0d0e7c2f11", i);
    ids.push_back(id);
    WriteRecord(
        id, FormatPendingRecord({id, UnknownOutcomeResult(clock_.Now()), "x"}));
    http_.Post(id, 200);
  }
  http_.Get(kNoCommands);
  ASSERT_TRUE(Runner().PollOnce().ok());
  EXPECT_EQ(http_.Posts().size(), 12u);
  EXPECT_TRUE(Pending().empty());
}

TEST_F(CommandRunnerTest, CommandNotFoundCountsAsDelivered) {
  WriteRecord(
      kId, FormatPendingRecord({kId, UnknownOutcomeResult(clock_.Now()), "x"}));
  http_.Post(kId, 400,
             R"({"code":"command_not_found","description":"no such command"})");
  http_.Get(kNoCommands);
  EXPECT_TRUE(Runner().PollOnce().ok());
  EXPECT_TRUE(Pending().empty());
}

TEST_F(CommandRunnerTest, OtherBadRequestsKeepTheResultPending) {
  const std::string record =
      FormatPendingRecord({kId, UnknownOutcomeResult(clock_.Now()), "x"});
  WriteRecord(kId, record);
  http_.Post(kId, 400, R"({"code":"invalid_result","description":"too big"})");
  http_.Get(kNoCommands);
  Status s = Runner().PollOnce();
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.message(), "result of " + std::string(kId) +
                             " kept pending: POST " + ResultUrl(kId) +
                             ": RAS error invalid_result: too big");
  EXPECT_EQ(http_.Count("GET", kCommandsUrl), 1u);  // the poll went on
  EXPECT_EQ(Pending(), std::set<std::string>{kId});
  EXPECT_EQ(ReadFile(RecordPath(kId), 1 << 20).value(), record);  // untouched

  http_.Post(kId, 400, "Bad Request");
  http_.Get(kNoCommands);
  EXPECT_EQ(Runner().PollOnce().code(), StatusCode::kUnavailable);
  EXPECT_EQ(Pending(), std::set<std::string>{kId});
}

TEST_F(CommandRunnerTest, FailedPostWritesRacsRecordAtomically) {
  http_.Get(kEchoTest);
  http_.Post(kId, 500, "Internal Server Error");
  Status s = Runner().PollOnce();
  EXPECT_EQ(s.message(), "result of " + std::string(kId) +
                             " kept pending: POST " + ResultUrl(kId) +
                             ": HTTP 500: Internal Server Error");
  // Only the record: no temporary file left.
  EXPECT_EQ(FilesIn(Dir()), std::set<std::string>{std::string(kId) + ".cmd"});
  EXPECT_EQ(Runner().PendingCount(), 1u);
  const std::string want =
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
      "  \"error\": \"POST https://ras.example/ras/commands/"
      "urn:tdx-ota:command:0b61a0c4-3f5e-4c1e-9a8e-5a0d0e7c2f11/result: "
      "HTTP 500: Internal Server Error\"\n"
      "}";
  EXPECT_EQ(ReadFile(RecordPath(kId), 1 << 20).value(), want);

  // Re-sent at the next poll, byte for byte, whatever the clock says.
  clock_.Advance(std::chrono::seconds(60));
  http_.Post(kId, 200);
  http_.Get(kNoCommands);
  ASSERT_TRUE(Runner().PollOnce().ok());
  EXPECT_EQ(http_.Posts(),
            (std::vector<std::string>{kEchoResult, kEchoResult}));
  EXPECT_TRUE(Pending().empty());
}

TEST_F(CommandRunnerTest, AdoptsRacsRecordByteForByte) {
  // PROTOCOL.md 5.6, as RAC's serde_json writes it.
  WriteRecord(kId,
              "{\n"
              "  \"cmd_id\": \"urn:tdx-ota:command:0b61a0c4-3f5e-4c1e-9a8e-"
              "5a0d0e7c2f11\",\n"
              "  \"output\": {\n"
              "    \"success\": false,\n"
              "    \"stdout\": \"line 1\\nline 2\",\n"
              "    \"stderr\": \"warning: \\\"x\\\"\",\n"
              "    \"error\": null,\n"
              "    \"exit_code\": 1,\n"
              "    \"finished_at\": \"2025-07-30T16:00:03.120Z\"\n"
              "  },\n"
              "  \"error\": \"Could not send command result: \"\n"
              "}");
  http_.Post(kId, 200);
  http_.Get(kNoCommands);
  ASSERT_TRUE(Runner().PollOnce().ok());
  EXPECT_EQ(http_.Posts(),
            std::vector<std::string>{
                R"({"success":false,"stdout":"line 1\nline 2",)"
                R"("stderr":"warning: \"x\"","error":null,"exit_code":1,)"
                R"("finished_at":"2025-07-30T16:00:03.120Z"})"});
  EXPECT_TRUE(Pending().empty());
}

TEST_F(CommandRunnerTest, CrashRecoveryReportsOnceAndNeverReruns) {
  // The agent (or RAC) died while kId ran: an empty record.
  WriteRecord(kId, "");
  const std::string kUnknown =
      std::string(R"({"success":false,"stdout":"unknown","stderr":"unknown",)"
                  R"("error":"a lock file for the command exists, but no )"
                  R"(output is available","exit_code":null,"finished_at":")") +
      kNow + "\"}";
  http_.Post(kId, 200);
  // The server still hands the command out in this poll.
  http_.Get(kEchoTest);
  ASSERT_TRUE(Runner().PollOnce().ok());
  EXPECT_EQ(http_.Posts(), std::vector<std::string>{kUnknown});
  EXPECT_EQ(Runs(), 0u);
  EXPECT_TRUE(Pending().empty());
  // And in the next one.
  http_.Get(kEchoTest);
  ASSERT_TRUE(Runner().PollOnce().ok());
  EXPECT_EQ(http_.Posts().size(), 1u);
  EXPECT_EQ(Runs(), 0u);
}

TEST_F(CommandRunnerTest, CrashRecoveredResultKeepsItsTimeAcrossRetries) {
  WriteRecord(kId, "{\"cmd_id\": \"urn:tdx-ota:command:0b61a0c4");  // torn
  http_.Get(kNoCommands);
  EXPECT_EQ(Runner().PollOnce().code(), StatusCode::kUnavailable);
  Result<PendingRecord> kept =
      ParsePendingRecord(ReadFile(RecordPath(kId), 1 << 20).value());
  ASSERT_TRUE(kept.ok()) << kept.status().message();
  EXPECT_EQ(kept->output, UnknownOutcomeResult(clock_.Now()));

  const std::string first = http_.Posts().at(0);
  clock_.Advance(std::chrono::seconds(3600));
  http_.Post(kId, 200);
  http_.Get(kNoCommands);
  ASSERT_TRUE(Runner().PollOnce().ok());
  EXPECT_EQ(http_.Posts(), (std::vector<std::string>{first, first}));
}

TEST_F(CommandRunnerTest, RecordLockedElsewhereIsSkippedNotAnAbort) {
  WriteRecord(
      kId, FormatPendingRecord({kId, UnknownOutcomeResult(clock_.Now()), "x"}));
  WriteRecord(kId2, FormatPendingRecord(
                        {kId2, UnknownOutcomeResult(clock_.Now()), "x"}));
  UniqueFd rac(open(RecordPath(kId).c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_EQ(flock(rac.get(), LOCK_EX | LOCK_NB), 0);
  http_.Post(kId2, 200);
  http_.Get(kNoCommands);
  ASSERT_TRUE(Runner().PollOnce().ok());
  EXPECT_EQ(http_.Count("POST", ResultUrl(kId)), 0u);
  EXPECT_EQ(http_.Count("POST", ResultUrl(kId2)), 1u);
  EXPECT_EQ(Pending(), std::set<std::string>{kId});
  // Held by another process right now, so it is not run either.
  http_.Get(kEchoTest);
  ASSERT_TRUE(Runner().PollOnce().ok());
  EXPECT_EQ(Runs(), 0u);
}

TEST_F(CommandRunnerTest, ExecutionErrorsAreReportedAndNotRerun) {
  http_.Get(CommandBody(kId, "restart-service", "[]"));
  http_.Post(kId, 200);
  ASSERT_TRUE(Runner().PollOnce().ok());
  EXPECT_EQ(
      http_.Posts(),
      std::vector<std::string>{
          std::string(R"({"success":false,"stdout":"","stderr":"","error":)"
                      R"("restart-service: no argument for the service name",)"
                      R"("exit_code":null,"finished_at":")") +
          kNow + "\"}"});
  // The server returns it once more: not run, not reported twice.
  http_.Get(CommandBody(kId, "restart-service", "[]"));
  ASSERT_TRUE(Runner().PollOnce().ok());
  EXPECT_EQ(http_.Posts().size(), 1u);
  EXPECT_TRUE(Pending().empty());
}

TEST_F(CommandRunnerTest, TimeoutIsAFailedResult) {
  lines_.restart_service = {"sh", "-c", "echo begun; sleep 60", "sh",
                            "{service}"};
  http_.Get(CommandBody(kId, "restart-service", R"(["aktualizr"])"));
  http_.Post(kId, 200);
  ASSERT_TRUE(Runner().PollOnce().ok());
  EXPECT_EQ(
      http_.Posts(),
      std::vector<std::string>{
          std::string(R"({"success":false,"stdout":"begun\n","stderr":"",)"
                      R"("error":"timed out after 1s","exit_code":null,)"
                      R"("finished_at":")") +
          kNow + "\"}"});
}

TEST_F(CommandRunnerTest, RecordExistsWhileTheCommandRuns) {
  // The command itself looks at the commands directory.
  lines_.restart_service = {"sh", "-c", "ls \"$1\"", "sh", Dir()};
  http_.Get(CommandBody(kId, "restart-service", R"(["aktualizr"])"));
  http_.Post(kId, 200);
  ASSERT_TRUE(Runner().PollOnce().ok());
  EXPECT_NE(
      http_.Posts().at(0).find(
          R"("stdout":"urn:tdx-ota:command:0b61a0c4-3f5e-4c1e-9a8e-5a0d0e7c2f11.cmd\n")"),
      std::string::npos)
      << http_.Posts()[0];
  EXPECT_TRUE(Pending().empty());
}

TEST_F(CommandRunnerTest, CancelledCommandIsKeptPendingNotPostedNorRerun) {
  config_.device.commands_timeout = config::Duration::Seconds(60);
  const std::string started = tmp_.Join("started");
  lines_.restart_service = {"sh", "-c",
                            "echo run >> " + runs_ + "; echo begun; touch " +
                                started + "; exec sleep 60",
                            "sh", "{service}"};
  UniqueFd terminate(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  ASSERT_TRUE(terminate.valid());
  Runner().SetInterrupts({.cancel_command_fd = terminate.get()});
  std::thread sigterm([&] {
    while (!PathExists(started)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    uint64_t one = 1;
    ASSERT_EQ(write(terminate.get(), &one, sizeof one), 8);
  });
  http_.Get(CommandBody(kId, "restart-service", R"(["aktualizr"])"));
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(Runner().PollOnce().ok());
  sigterm.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  EXPECT_EQ(http_.Posts().size(), 0u);  // nothing sent while stopping
  Result<PendingRecord> kept =
      ParsePendingRecord(ReadFile(RecordPath(kId), 1 << 20).value());
  ASSERT_TRUE(kept.ok()) << kept.status().message();
  EXPECT_FALSE(kept->output.success);
  EXPECT_EQ(kept->output.error, std::string(kCommandCancelled));
  EXPECT_EQ(kept->output.stdout_text, "begun\n");
  EXPECT_EQ(kept->error, "not sent: the agent stopped");

  // The next agent delivers it first and never runs the command again.
  runner_.reset();
  http_.Post(kId, 200);
  http_.Get(CommandBody(kId, "restart-service", R"(["aktualizr"])"));
  ASSERT_TRUE(Runner().PollOnce().ok());
  EXPECT_EQ(http_.Posts(),
            std::vector<std::string>{FormatCommandResult(kept->output)});
  EXPECT_TRUE(Pending().empty());
  http_.Get(CommandBody(kId, "restart-service", R"(["aktualizr"])"));
  ASSERT_TRUE(Runner().PollOnce().ok());
  EXPECT_EQ(Runs(), 1u);
  EXPECT_EQ(http_.Posts().size(), 1u);
}

TEST_F(CommandRunnerTest, StopFdCancelsRequestsAndKeepsTheResult) {
  UniqueFd stop(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  ASSERT_TRUE(stop.valid());
  Runner().SetInterrupts({.stop_fds = {stop.get()}});
  http_.Get(kEchoTest);
  http_.Post(kId, 500);
  EXPECT_FALSE(Runner().PollOnce().ok());
  for (const http::HttpRequest& r : http_.requests) {
    EXPECT_EQ(r.cancel_fds, std::vector<int>{stop.get()}) << r.url;
  }
  EXPECT_EQ(Pending(), std::set<std::string>{kId});
}

}  // namespace
}  // namespace porthole::agent
