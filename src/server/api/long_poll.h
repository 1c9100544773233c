// Long polls (docs/device-api-extensions.md section 2, and the operator API):
// answer at once when the client has not seen the current state, else when
// it changes or the wait is over.
//
//   LongPollParams params;
//   if (auto bad = ParseLongPoll(request, 55, &params)) return respond(*bad);
//   LongPoll(hub, scheduler, {DeviceTopic(id)}, params,
//            [=] { return CurrentSessionsResponse(id); }, respond);
//
// `compute` builds the full answer including its ETag header (see
// SetTag()); it runs on the caller's thread first and then on scheduler
// threads, possibly several times (a wake-up is a hint).
#ifndef PORTHOLE_SERVER_API_LONG_POLL_H_
#define PORTHOLE_SERVER_API_LONG_POLL_H_

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/api/change_hub.h"
#include "server/api/http.h"

namespace porthole::server::api {

struct LongPollParams {
  std::chrono::seconds wait{0};  // 0: answer at once (an ordinary request)
  std::string seen;              // the client's tag, "" when none
};

// Reads `wait` (1..; clamped to max_wait) and `seen` (1-64 lower-case hex).
// Returns a 400 response for bad values, nullopt when they are fine.
std::optional<Response> ParseLongPoll(const Request& request, int max_wait,
                                      LongPollParams* params);

// A tag for `data`: 16 lower-case hex digits of its SHA-256.
std::string TagOf(std::string_view data);
// Sets the ETag header ("\"" tag "\"").
void SetTag(Response* response, const std::string& tag);
// The tag of a response whose ETag was set with SetTag ("" if none).
std::string TagOfResponse(const Response& response);

// Answers through `respond` exactly once.
void LongPoll(ChangeHub* hub, Scheduler* scheduler,
              std::vector<std::string> topics, const LongPollParams& params,
              std::function<Response()> compute, Respond respond);

}  // namespace porthole::server::api

#endif  // PORTHOLE_SERVER_API_LONG_POLL_H_
