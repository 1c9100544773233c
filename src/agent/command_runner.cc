#include "agent/command_runner.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <utility>

#include "agent/server_api.h"

namespace porthole::agent {
namespace {

bool Is2xx(long status) { return status >= 200 && status < 300; }

// What the pending record says before the first POST attempt ends.
constexpr char kNotSentYet[] = "result not sent yet";

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& s : items) {
    if (!out.empty()) out += "; ";
    out += s;
  }
  return out;
}

// Server-chosen text, made safe for one log line.
std::string Printable(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, 200)) {
    out += (static_cast<unsigned char>(c) >= 0x20 && c != 0x7f) ? c : '?';
  }
  return out;
}

void Keep(Status* first, const Status& s) {
  if (s.ok()) return;
  if (first->ok()) {
    *first = s;
  } else {
    spdlog::debug("commands: also: {}", s.message());
  }
}

}  // namespace

CommandRunner::CommandRunner(const config::AgentConfig& config,
                             http::HttpClient* http,
                             MetadataSource fetch_metadata, CommandLines lines,
                             const Clock& clock)
    : config_(config),
      http_(http),
      fetch_metadata_(std::move(fetch_metadata)),
      lines_(std::move(lines)),
      clock_(clock),
      store_(config.Absolute(config.device.commands_dir)) {}

size_t CommandRunner::PendingCount() const {
  Result<std::vector<CommandStore::Entry>> entries = store_.List();
  return entries.ok() ? entries->size() : 0;
}

Status CommandRunner::PollOnce() {
  Status first;
  Keep(&first, FlushPending());
  Result<std::optional<ReceivedCommand>> received = FetchCommand();
  if (!received.ok()) {
    Keep(&first, received.status());
    return first;
  }
  if (!received->has_value()) {
    spdlog::debug("commands: no new commands");
    return first;
  }
  Keep(&first, Handle(**received));
  return first;
}

Status CommandRunner::FlushPending() {
  store_.RemoveStaleTemporaries();
  PH_ASSIGN_OR_RETURN(std::vector<CommandStore::Entry> entries, store_.List());
  Status first;
  for (const CommandStore::Entry& entry : entries) {
    Keep(&first, FlushOne(entry));
  }
  return first;
}

Status CommandRunner::FlushOne(const CommandStore::Entry& entry) {
  Result<CommandStore::Record> record = store_.Lock(entry);
  if (!record.ok()) {
    if (record.status().code() == StatusCode::kUnavailable ||
        record.status().code() == StatusCode::kNotFound) {
      // Held by another process (or just finished by it): its business.
      spdlog::debug("commands: skipping {}", record.status().message());
      return Status::Ok();
    }
    return record.status();
  }
  PH_ASSIGN_OR_RETURN(std::string text, record->Read());
  Result<PendingRecord> pending = ParsePendingRecord(text);
  if (!pending.ok() || pending->id != entry.id) {
    spdlog::warn(
        "commands: {} has no result (the agent stopped while it ran); "
        "reporting it as failed",
        entry.id);
    PendingRecord recovered{entry.id, UnknownOutcomeResult(clock_.Now()),
                            std::string(kNoOutputAvailable)};
    // Written first, so that every attempt sends the same result.
    PH_RETURN_IF_ERROR(record->Replace(FormatPendingRecord(recovered)));
    pending = std::move(recovered);
  }
  Status sent = PostResult(entry.id, pending->output);
  if (!sent.ok()) {
    return sent.Prefixed("result of " + entry.id + " kept pending");
  }
  spdlog::info("commands: pending result of {} delivered", entry.id);
  Remember(entry.id);
  return record->Remove();
}

Result<http::HttpResponse> CommandRunner::Send(http::HttpRequest request,
                                               const std::vector<int>& more) {
  request.cancel_fds = interrupts_.stop_fds;
  request.cancel_fds.insert(request.cancel_fds.end(), more.begin(), more.end());
  return http_->Send(request);
}

Result<std::optional<ReceivedCommand>> CommandRunner::FetchCommand() {
  http::HttpRequest req;
  req.url = config_.torizon.CommandsUrl();
  if (long_poll_ != nullptr) long_poll_->Prepare(&req);
  const auto start = std::chrono::steady_clock::now();
  Result<http::HttpResponse> sent = Send(req, interrupts_.poll_now_fds);
  if (long_poll_ != nullptr) {
    if (sent.ok()) {
      long_poll_->Answered(
          *sent, std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::steady_clock::now() - start));
    } else {
      long_poll_->Forget();
    }
  }
  PH_ASSIGN_OR_RETURN(http::HttpResponse resp, std::move(sent));
  req.url = config_.torizon.CommandsUrl();
  if (!Is2xx(resp.status)) {
    return Status::Unavailable("GET " + req.url + ": " +
                               DescribeHttpStatus(resp));
  }
  return ParseCommandsResponse(resp.body);
}

Status CommandRunner::Handle(const ReceivedCommand& received) {
  const std::string& id = received.id;
  if (delivered_.count(id) != 0) {
    Skipped(id, "its result was delivered already; not running it again");
    return Status::Ok();
  }
  PH_ASSIGN_OR_RETURN(bool pending, store_.Has(id));
  if (pending) {
    Skipped(id, "its result is still pending; not running it again");
    return Status::Ok();
  }
  std::vector<std::string> reasons;
  if (!received.command) {
    reasons.push_back("malformed command: " + received.defect);
  } else {
    tuf::ErrorOr<tuf::VerifiedMetadata> metadata = fetch_metadata_();
    if (!metadata.ok()) {
      return metadata.error().ToStatus().Prefixed("command " + id +
                                                  " not validated");
    }
    reasons = ValidateCommand(*received.command, metadata->remote_sessions);
  }
  if (reasons.empty()) return Run(*received.command);

  spdlog::warn("commands: {} rejected: {}", id, Printable(Join(reasons)));
  Status sent = PostResult(id, RejectedResult(reasons, clock_.Now()));
  if (!sent.ok()) return sent.Prefixed("rejection of " + id + " not delivered");
  Remember(id);
  return Status::Ok();
}

Status CommandRunner::Run(const Command& command) {
  const std::string& id = command.id;
  PH_ASSIGN_OR_RETURN(CommandStore::Record record, store_.Create(id));
  spdlog::info("commands: running {} ({} with {} argument(s))", id,
               command.name, command.args.size());
  CommandResult result =
      ExecuteCommand(command, lines_, config_.device.commands_timeout, clock_,
                     interrupts_.cancel_command_fd);
  if (result.error == std::string(kCommandCancelled)) {
    // The agent is stopping: no POST (it could outlast the stop), the
    // next agent delivers the record first.
    spdlog::warn(
        "commands: {} ended: the agent is stopping; its failed "
        "result is kept pending",
        id);
    PH_RETURN_IF_ERROR(record.Replace(FormatPendingRecord(
        {id, result, std::string("not sent: the agent stopped")})));
    return Status::Ok();
  }
  if (result.error.is_null()) {
    spdlog::info("commands: {} finished: {}", id,
                 result.exit_code ? "exit " + std::to_string(*result.exit_code)
                                  : std::string("killed by a signal"));
  } else {
    spdlog::warn("commands: {} failed: {}", id,
                 result.error.is_string() ? result.error.get<std::string>()
                                          : std::string("error"));
  }
  // Kept before it is sent: from here on a crash still reports this result.
  Status saved = record.Replace(
      FormatPendingRecord({id, result, std::string(kNotSentYet)}));
  Status sent = PostResult(id, result);
  if (sent.ok()) {
    spdlog::info("commands: result of {} delivered", id);
    Remember(id);
    return record.Remove();
  }
  Status resaved =
      record.Replace(FormatPendingRecord({id, result, sent.message()}));
  if (!saved.ok() && !resaved.ok()) {
    // The record stays empty: the next poll reports an unknown outcome.
    spdlog::error("commands: result of {} could not be kept: {}", id,
                  resaved.message());
  }
  return sent.Prefixed("result of " + id + " kept pending");
}

Status CommandRunner::PostResult(const std::string& id,
                                 const CommandResult& result) {
  http::HttpRequest req;
  req.method = "POST";
  req.url = config_.torizon.CommandResultUrl(id);
  req.body = FormatCommandResult(result);
  PH_ASSIGN_OR_RETURN(http::HttpResponse resp, Send(req));
  if (Is2xx(resp.status)) return Status::Ok();
  if (resp.status == 400) {
    std::optional<RasError> ras = ParseRasError(resp.body);
    if (ras && ras->code == kCommandNotFound) {
      spdlog::info("commands: server does not know {} (reported already?)", id);
      return Status::Ok();
    }
    if (ras) {
      return Status::FailedPrecondition("POST " + req.url + ": RAS error " +
                                        Printable(ras->code) + ": " +
                                        Printable(ras->description));
    }
  }
  return Status::Unavailable("POST " + req.url + ": " +
                             DescribeHttpStatus(resp));
}

void CommandRunner::Remember(const std::string& id) {
  if (!delivered_.insert(id).second) return;
  delivered_order_.push_back(id);
  if (delivered_order_.size() > kRememberedIds) {
    delivered_.erase(delivered_order_.front());
    delivered_order_.pop_front();
  }
}

void CommandRunner::Skipped(const std::string& id, const std::string& why) {
  if (id == last_skipped_) {
    spdlog::debug("commands: {} returned again: {}", id, why);
    return;
  }
  last_skipped_ = id;
  spdlog::warn("commands: server returned {} again: {}", id, why);
}

}  // namespace porthole::agent
