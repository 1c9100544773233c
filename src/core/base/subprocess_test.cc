#include "core/base/subprocess.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "core/base/file.h"
#include "core/base/test_util.h"
#include "core/base/unique_fd.h"

namespace porthole {
namespace {

using std::chrono::milliseconds;

TEST(SubprocessTest, CapturesOutputAndExitCode) {
  auto r = RunProcess({"sh", "-c", "echo out; echo err >&2; exit 3"});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->out, "out\n");
  EXPECT_EQ(r->err, "err\n");
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_EQ(r->Describe(), "exit 3");
}

TEST(SubprocessTest, ArgumentsAreNotInterpretedByAShell) {
  auto r = RunProcess({"printf", "%s|", "a b", "$(id)", "'; rm -rf /"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->out, "a b|$(id)|'; rm -rf /|");
}

TEST(SubprocessTest, FeedsStdin) {
  RunOptions o;
  o.stdin_data = std::string(300000, 'x');  // larger than a pipe buffer
  auto r = RunProcess({"wc", "-c"}, o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->out, "300000\n");
}

TEST(SubprocessTest, MissingProgramIsNotFound) {
  auto r = RunProcess({"/nonexistent/prog"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(r.status().message(),
            "/nonexistent/prog: No such file or directory");
}

TEST(SubprocessTest, CapsOutput) {
  RunOptions o;
  o.max_output = 10;
  auto r = RunProcess({"head", "-c", "100000", "/dev/zero"}, o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->out.size(), 10u);
  EXPECT_TRUE(r->out_truncated);
  EXPECT_EQ(r->exit_code, 0);
}

TEST(SubprocessTest, ExtraEnvironment) {
  RunOptions o;
  o.env = {"PORTHOLE_T=1", "HOME=/x"};
  auto r = RunProcess({"sh", "-c", "echo $PORTHOLE_T $HOME"}, o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->out, "1 /x\n");
}

TEST(SubprocessTest, TimeoutKillsTheWholeGroupEvenIfTermIsIgnored) {
  TempDir d;
  RunOptions o;
  o.timeout = milliseconds(300);
  o.kill_grace = milliseconds(200);
  // The child ignores SIGTERM and leaves a grandchild holding stdout open.
  std::string script = "trap '' TERM; (trap '' TERM; sleep 30; touch " +
                       d.Join("survived") + ") & sleep 30";
  auto start = std::chrono::steady_clock::now();
  auto r = RunProcess({"sh", "-c", script}, o);
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->timed_out);
  EXPECT_EQ(r->term_signal, SIGKILL);
  EXPECT_EQ(r->Describe(), "timed out");
  EXPECT_LT(took, std::chrono::seconds(10));
  EXPECT_FALSE(PathExists(d.Join("survived")));
}

TEST(SubprocessTest, CancelFdEndsTheWholeGroup) {
  TempDir d;
  UniqueFd cancel(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  ASSERT_TRUE(cancel.valid());
  RunOptions o;
  o.cancel_fd = cancel.get();
  o.cancel_grace = milliseconds(200);
  std::thread canceller([&] {
    std::this_thread::sleep_for(milliseconds(300));
    uint64_t one = 1;
    ASSERT_EQ(write(cancel.get(), &one, sizeof one), 8);
  });
  std::string script =
      "echo started; trap '' TERM; (trap '' TERM; sleep 30; "
      "touch " +
      d.Join("survived") + ") & sleep 30";
  auto start = std::chrono::steady_clock::now();
  auto r = RunProcess({"sh", "-c", script}, o);
  auto took = std::chrono::steady_clock::now() - start;
  canceller.join();
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->cancelled);
  EXPECT_FALSE(r->timed_out);
  EXPECT_EQ(r->term_signal, SIGKILL);
  EXPECT_EQ(r->out, "started\n");
  EXPECT_EQ(r->Describe(), "cancelled");
  EXPECT_LT(took, std::chrono::seconds(5));
  EXPECT_FALSE(PathExists(d.Join("survived")));
  // Already readable: the child is ended at once.
  r = RunProcess({"sleep", "30"}, o);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->cancelled);
  EXPECT_EQ(r->term_signal, SIGTERM);
}

TEST(SubprocessTest, SelfExecutable) {
  auto self = SelfExecutable();
  ASSERT_TRUE(self.ok());
  EXPECT_NE(self->find("base_test"), std::string::npos);
}

}  // namespace
}  // namespace porthole

namespace porthole {
namespace {

TEST(ChildProcessTest, ReadsLinesAndIsKilledWithItsGroup) {
  TempDir d;
  ChildProcess::Options o;
  o.pipe_stdout = true;
  std::string script =
      "echo ready; (sleep 30; touch " + d.Join("late") + ") & sleep 30";
  {
    auto child = ChildProcess::Start({"sh", "-c", script}, o);
    ASSERT_TRUE(child.ok()) << child.status().message();
    auto line = child->ReadLine(std::chrono::milliseconds(5000));
    ASSERT_TRUE(line.ok()) << line.status().message();
    EXPECT_EQ(*line, "ready");
  }  // destructor: SIGKILL to the group, reaped
  EXPECT_FALSE(PathExists(d.Join("late")));
}

TEST(ChildProcessTest, WaitReportsSignalAndExit) {
  auto child = ChildProcess::Start({"sleep", "30"});
  ASSERT_TRUE(child.ok());
  child->Signal(SIGTERM);
  RunResult r = child->Wait();
  EXPECT_EQ(r.term_signal, SIGTERM);
  auto quick = ChildProcess::Start({"sh", "-c", "exit 7"});
  ASSERT_TRUE(quick.ok());
  EXPECT_EQ(quick->Wait().exit_code, 7);
  EXPECT_EQ(ChildProcess::Start({"/nonexistent/x"}).status().code(),
            StatusCode::kNotFound);
}

}  // namespace
}  // namespace porthole
