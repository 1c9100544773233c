// For tests: a private dbus-daemon on a unix socket, and a capture of the
// log lines that can be waited for. Header-only; no sdbus-c++ here, so
// tests outside src/agent/dbus/ may use it.
#ifndef PORTHOLE_AGENT_DBUS_TEST_BUS_H_
#define PORTHOLE_AGENT_DBUS_TEST_BUS_H_

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/status.h"
#include "core/base/subprocess.h"
#include "core/base/unique_fd.h"

namespace porthole::agent {

// `dbus-daemon --session --nofork --address=unix:path=<socket>`, its stderr
// in <socket>.log. Start() returns once the daemon listens; Stop() (and the
// destructor) kill it with SIGKILL and reap it. Start() after Stop() serves
// the same address again.
class TestBus {
 public:
  explicit TestBus(std::string socket_path)
      : socket_path_(std::move(socket_path)),
        address_("unix:path=" + socket_path_) {}
  ~TestBus() { Stop(); }
  TestBus(const TestBus&) = delete;
  TestBus& operator=(const TestBus&) = delete;

  Status Start() {
    if (pid_ > 0) return Status::FailedPrecondition("already running");
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) return PosixError("pipe2", errno);
    UniqueFd read_end(p[0]), write_end(p[1]);
    UniqueFd log(open((socket_path_ + ".log").c_str(),
                      O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
    SpawnOptions options;
    options.stdout_fd = write_end.get();
    options.stderr_fd = log.get();
    auto pid = SpawnProcess({"dbus-daemon", "--session", "--nofork",
                             "--address=" + address_, "--print-address=1"},
                            options);
    if (!pid.ok()) return pid.status();
    pid_ = *pid;
    write_end.reset();
    // The address is printed once the socket listens.
    std::string line;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (line.find('\n') == std::string::npos) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      pollfd pfd{read_end.get(), POLLIN, 0};
      if (left.count() <= 0 || poll(&pfd, 1, left.count()) <= 0) {
        Stop();
        return Status::Unavailable("dbus-daemon did not start");
      }
      char buf[256];
      ssize_t n = read(read_end.get(), buf, sizeof(buf));
      if (n <= 0) {
        Stop();
        return Status::Unavailable("dbus-daemon exited; see " + socket_path_ +
                                   ".log");
      }
      line.append(buf, n);
    }
    printed_address_ = line.substr(0, line.find('\n'));
    return Status::Ok();
  }

  void Stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  const std::string& address() const { return address_; }
  // What the daemon printed: the address with its guid.
  const std::string& printed_address() const { return printed_address_; }
  // "DBUS_SESSION_BUS_ADDRESS=<address>", for RunOptions::env.
  std::string SessionEnv() const {
    return "DBUS_SESSION_BUS_ADDRESS=" + address_;
  }

 private:
  std::string socket_path_;
  std::string address_;
  std::string printed_address_;
  pid_t pid_ = -1;
};

// Replaces the default logger (at debug level) while it lives; every line
// is kept as "<level>: <text>". Create it before, and destroy it after, any
// thread that logs.
class LogCapture {
 public:
  LogCapture() : sink_(std::make_shared<Sink>()) {
    old_ = spdlog::default_logger();
    auto logger = std::make_shared<spdlog::logger>("capture", sink_);
    logger->set_level(spdlog::level::debug);
    spdlog::set_default_logger(logger);
  }
  ~LogCapture() { spdlog::set_default_logger(old_); }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  // Waits until at least `count` lines contain `needle`.
  bool WaitFor(std::string_view needle, std::chrono::milliseconds timeout,
               size_t count = 1) {
    std::unique_lock lock(sink_->mu);
    return sink_->cv.wait_for(lock, timeout,
                              [&] { return CountLocked(needle) >= count; });
  }
  size_t Count(std::string_view needle) {
    std::lock_guard lock(sink_->mu);
    return CountLocked(needle);
  }
  // The last line containing `needle`, or "".
  std::string Last(std::string_view needle) {
    std::lock_guard lock(sink_->mu);
    for (auto it = sink_->lines.rbegin(); it != sink_->lines.rend(); ++it) {
      if (it->find(needle) != std::string::npos) return *it;
    }
    return "";
  }
  std::string All() {
    std::lock_guard lock(sink_->mu);
    std::string out;
    for (const std::string& l : sink_->lines) out += l + "\n";
    return out;
  }

 private:
  struct Sink : spdlog::sinks::base_sink<spdlog::details::null_mutex> {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<std::string> lines;

   protected:
    void sink_it_(const spdlog::details::log_msg& msg) override {
      std::string line(spdlog::level::to_string_view(msg.level).data(),
                       spdlog::level::to_string_view(msg.level).size());
      line += ": ";
      line.append(msg.payload.data(), msg.payload.size());
      {
        std::lock_guard lock(mu);
        lines.push_back(std::move(line));
      }
      cv.notify_all();
    }
    void flush_() override {}
  };

  size_t CountLocked(std::string_view needle) {
    size_t n = 0;
    for (const std::string& l : sink_->lines) {
      if (l.find(needle) != std::string::npos) ++n;
    }
    return n;
  }

  std::shared_ptr<Sink> sink_;
  std::shared_ptr<spdlog::logger> old_;
};

}  // namespace porthole::agent

#endif  // PORTHOLE_AGENT_DBUS_TEST_BUS_H_
