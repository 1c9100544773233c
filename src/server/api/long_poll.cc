#include "server/api/long_poll.h"

#include <memory>
#include <mutex>

#include "core/crypto/digest.h"
#include "server/api/json_util.h"

namespace porthole::server::api {
namespace {

using SteadyTime = std::chrono::steady_clock::time_point;

// One pending long poll. Every path that may answer takes `mu`, checks
// `done`, and the one that answers sets it.
struct Poll : std::enable_shared_from_this<Poll> {
  ChangeHub* hub;
  Scheduler* scheduler;
  std::vector<std::string> topics;
  std::string seen;
  SteadyTime deadline;
  std::function<Response()> compute;
  Respond respond;

  std::mutex mu;
  bool done = false;
  std::vector<ChangeHub::Token> tokens;  // guarded by mu
  std::function<void()> cancel_timer;    // guarded by mu

  void Subscribe() {
    std::weak_ptr<Poll> weak = weak_from_this();
    for (const std::string& topic : topics) {
      tokens.push_back(hub->Subscribe(topic, [weak] {
        if (auto self = weak.lock()) {
          self->scheduler->Post([self] { self->Recheck(false); });
        }
      }));
    }
  }

  void Unsubscribe() {
    for (ChangeHub::Token t : tokens) hub->Unsubscribe(t);
    tokens.clear();
  }

  // A wake-up (final = false) or the deadline (final = true).
  void Recheck(bool final) {
    std::unique_lock<std::mutex> lock(mu);
    if (done) return;
    Unsubscribe();
    if (!final) Subscribe();  // before computing: no change slips between
    Response r = compute();
    if (!final && TagOfResponse(r) == seen &&
        std::chrono::steady_clock::now() < deadline) {
      return;  // spurious: keep waiting
    }
    done = true;
    Unsubscribe();
    std::function<void()> cancel = std::move(cancel_timer);
    lock.unlock();
    if (cancel) cancel();
    respond(std::move(r));
  }
};

bool IsLowerHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

std::optional<Response> ParseLongPoll(const Request& request, int max_wait,
                                      LongPollParams* params) {
  *params = LongPollParams();
  if (const std::string* wait = request.Query("wait")) {
    bool digits = !wait->empty() && wait->size() <= 9;
    for (char c : *wait) digits = digits && c >= '0' && c <= '9';
    if (!digits || std::stol(*wait) < 1) {
      return ErrorResponse(400, "bad_request",
                           "wait must be a whole number of seconds >= 1");
    }
    params->wait =
        std::chrono::seconds(std::min<long>(std::stol(*wait), max_wait));
  }
  if (const std::string* seen = request.Query("seen")) {
    if (seen->empty() || seen->size() > 64 || !IsLowerHex(*seen)) {
      return ErrorResponse(400, "bad_request",
                           "seen must be 1 to 64 lower-case hex digits");
    }
    params->seen = *seen;
  }
  return std::nullopt;
}

std::string TagOf(std::string_view data) {
  return crypto::HexEncode(crypto::Sha256(data)).substr(0, 16);
}

void SetTag(Response* response, const std::string& tag) {
  response->SetHeader("ETag", "\"" + tag + "\"");
}

std::string TagOfResponse(const Response& response) {
  std::string etag = response.Header("ETag");
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') {
    return etag.substr(1, etag.size() - 2);
  }
  return etag;
}

void LongPoll(ChangeHub* hub, Scheduler* scheduler,
              std::vector<std::string> topics, const LongPollParams& params,
              std::function<Response()> compute, Respond respond) {
  if (params.wait.count() <= 0) {
    respond(compute());
    return;
  }
  auto poll = std::make_shared<Poll>();
  poll->hub = hub;
  poll->scheduler = scheduler;
  poll->topics = std::move(topics);
  poll->seen = params.seen;
  poll->deadline = std::chrono::steady_clock::now() + params.wait;
  poll->compute = std::move(compute);
  poll->respond = std::move(respond);

  std::unique_lock<std::mutex> lock(poll->mu);
  poll->Subscribe();
  Response first = poll->compute();
  if (TagOfResponse(first) != poll->seen) {
    poll->done = true;
    poll->Unsubscribe();
    Respond respond_now = poll->respond;
    lock.unlock();
    respond_now(std::move(first));
    return;
  }
  // The timer holds the poll alive until the deadline or the answer.
  poll->cancel_timer = scheduler->RunAfter(
      std::chrono::duration_cast<std::chrono::milliseconds>(params.wait),
      [poll] { poll->Recheck(true); });
}

}  // namespace porthole::server::api
