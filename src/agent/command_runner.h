// The remote-commands poll of porthole-agent: RAC's procedure (PROTOCOL.md
// 5.2) with porthole's fixes (13 rows 3, 5, 6, 24).
//
//   CommandRunner runner(config, http.get(), [&] { return loader.Load(); },
//                        CommandLines(), Clock::Real());
//   for (;;) {  // every poll_timeout, or at once on D-Bus "poll now"
//     Status s = runner.PollOnce();
//     if (!s.ok()) spdlog::warn("commands: {}", s.message());
//   }
//
// One PollOnce():
//  1. Flush. Every pending record in commands_dir (not just 10) is sent
//     again, oldest name first. A record another process holds locked is
//     skipped this time, not the whole poll (RAC bug 24). A record without
//     a result (empty or unparseable: the agent died while the command ran,
//     or RAC did) gets the "unknown" result (UnknownOutcomeResult), which
//     is written into it before it is sent, so it keeps its finished_at.
//     Delivered means 2xx, or 400 {"code":"command_not_found"} (already
//     reported); the record is then deleted. Otherwise it stays.
//  2. GET {url}commands; only values[0] is acted on. Nothing: done.
//  3. Double-run guard, before anything else: if a record for the id exists
//     (its result is pending, or it runs elsewhere) or this runner has
//     delivered a result for it, the command is neither validated nor run
//     again nor reported twice.
//  4. Validation (ValidateCommand) against freshly verified metadata. A
//     command that is not allowed, has an unknown name or is malformed is
//     not run: its rejection is POSTed (error.message "invalid command
//     received from server"). As in RAC, a rejection is not persisted: if
//     its POST fails, the command is validated again at the next poll.
//     Metadata that cannot be fetched or verified is NOT a rejection: the
//     device cannot tell whether the command is allowed, the fault may be
//     transient, and reporting the server's command as invalid would be a
//     false statement about it. The poll fails instead and the command is
//     seen again at the next one (RAC does the same).
//  5. Run. The record is created (empty, locked, durable) before the
//     command starts, so a crash at any later point is reported (step 1)
//     and never leads to a second run. The result, success or execution
//     error (timeout, spawn failure, missing argument: RAC bug 3), is
//     written into the record, then POSTed; delivered, the record is
//     deleted; otherwise it stays pending with the send error.
//
// Interrupts (SetInterrupts): the agent's eventfds stop HTTP requests at
// once (a request cut so counts as failed: a result stays pending), "poll
// now" also cuts a held GET commands, and terminating ends a running
// command's process group (ExecuteCommand's cancel_fd): its failed result
// (error kCommandCancelled) is written to its record and NOT posted, so
// the next agent delivers it before anything else and never runs the
// command again. With SetLongPoll, GET commands is a long poll when the
// server announces one (docs/device-api-extensions.md 2).
//
// Thread safety: PollOnce() must not run concurrently with itself (the
// agent gives it its own thread, concurrent with the session thread).
// PendingCount() may be called from any thread. `http` is used only from
// PollOnce(): it must not be shared with another thread. `fetch_metadata`
// is called from PollOnce() when a command needs validation; a shared
// tuf::MetadataLoader is fine (Load() is serialised) if its fetcher's HTTP
// client is used by no other thread.
//
// Blocking: a poll takes up to the HTTP timeouts plus commands_timeout plus
// 2 s (the kill grace after a timeout).
#ifndef PORTHOLE_AGENT_COMMAND_RUNNER_H_
#define PORTHOLE_AGENT_COMMAND_RUNNER_H_

#include <cstddef>
#include <deque>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "agent/command.h"
#include "agent/command_exec.h"
#include "agent/command_store.h"
#include "agent/server_extensions.h"
#include "core/base/clock.h"
#include "core/base/status.h"
#include "core/config/agent_config.h"
#include "core/http/http_client.h"
#include "core/tuf/loader.h"

namespace porthole::agent {

class CommandRunner {
 public:
  using MetadataSource = std::function<tuf::ErrorOr<tuf::VerifiedMetadata>()>;

  // `config`, `http` and `clock` must outlive the runner. Records live in
  // config.Absolute(config.device.commands_dir); commands time out after
  // config.device.commands_timeout.
  CommandRunner(const config::AgentConfig& config, http::HttpClient* http,
                MetadataSource fetch_metadata, CommandLines lines,
                const Clock& clock);

  struct Interrupts {
    std::vector<int> stop_fds;      // cancel every HTTP request
    std::vector<int> poll_now_fds;  // also cancel GET commands
    int cancel_command_fd = -1;     // end a running command
  };
  void SetInterrupts(Interrupts interrupts) {
    interrupts_ = std::move(interrupts);
  }
  // Not owned; null: GET commands is always an ordinary request.
  void SetLongPoll(LongPoll* long_poll) { long_poll_ = long_poll; }

  // One poll (above). Does everything it can and returns the first failure
  // for the caller to log: a pending result not delivered, GET failed or
  // unparseable, metadata not verified, a rejection or result not
  // delivered (kUnavailable for the transport and 5xx, kFailedPrecondition
  // for a RAS 400 error, kCorrupt for bodies, I/O codes for the records).
  // Commands run, results delivered and commands skipped by the guard are
  // logged here at info/warning level.
  Status PollOnce();

  // Records in commands_dir: results not delivered yet (plus a command
  // running right now). 0 if the directory cannot be read.
  size_t PendingCount() const;

  // How many delivered ids the guard of step 3 remembers.
  static constexpr size_t kRememberedIds = 256;

 private:
  Status FlushPending();
  Status FlushOne(const CommandStore::Entry& entry);
  Status Handle(const ReceivedCommand& received);
  Status Run(const Command& command);
  Result<std::optional<ReceivedCommand>> FetchCommand();
  // Sends with interrupts_.stop_fds (and `more`) as cancel descriptors.
  Result<http::HttpResponse> Send(http::HttpRequest request,
                                  const std::vector<int>& more = {});
  // POSTs `result`; OK when delivered (2xx or 400 command_not_found).
  Status PostResult(const std::string& id, const CommandResult& result);
  void Remember(const std::string& id);
  // Logs a skipped command at warning level once, then at debug level.
  void Skipped(const std::string& id, const std::string& why);

  const config::AgentConfig& config_;
  http::HttpClient* const http_;
  const MetadataSource fetch_metadata_;
  const CommandLines lines_;
  const Clock& clock_;
  Interrupts interrupts_;
  LongPoll* long_poll_ = nullptr;
  CommandStore store_;
  std::deque<std::string> delivered_order_;  // oldest first
  std::set<std::string> delivered_;
  std::string last_skipped_;
};

}  // namespace porthole::agent

#endif  // PORTHOLE_AGENT_COMMAND_RUNNER_H_
