// porthole-server's device API extensions, client side
// (docs/device-api-extensions.md): discovery through the
// X-Porthole-Extensions response header, the ETag of `sessions` and
// `commands`, and the long poll built on them.
//
//   ExtensionState ext;  // one per agent, shared by its threads
//   auto client = TrackExtensions(std::move(curl_client), &ext);
//   LongPoll poll(&ext, config.porthole.long_poll_wait, http_timeout);
//   http::HttpRequest req{.url = sessions_url};
//   poll.Prepare(&req);          // "?wait=25&seen=..." when announced
//   ... send, then poll.Answered(response, elapsed) or poll.Failed()
//   if (!poll.AgainAtOnce()) sleep(poll_timeout);
//
// Header values come from the network: the parsers accept only the forms
// the document gives and ignore anything else (an unknown or malformed
// token turns nothing on).
#ifndef PORTHOLE_AGENT_SERVER_EXTENSIONS_H_
#define PORTHOLE_AGENT_SERVER_EXTENSIONS_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "core/config/duration.h"
#include "core/http/http_client.h"

namespace porthole::agent {

inline constexpr std::string_view kExtensionsHeader = "x-porthole-extensions";

// What one response announced.
struct ServerExtensions {
  uint32_t long_poll_max = 0;  // seconds; 0: no long poll
  bool host_keys = false;

  friend bool operator==(const ServerExtensions&,
                         const ServerExtensions&) = default;
};

// Parses the header's value (1): a comma-separated list of NAME or
// NAME=VALUE tokens, optional spaces and tabs around each; names are
// case-sensitive. `long-poll=N` needs N decimal, 1..2^31-1, without sign or
// leading zeros; `host-keys` takes no value. Unknown tokens and malformed
// ones are ignored; of repeated tokens the last one counts. Never fails.
ServerExtensions ParseExtensions(std::string_view value);

// Every X-Porthole-Extensions line of `response` as one list (HTTP's rule
// for repeated fields), parsed; all off when there is none.
ServerExtensions ExtensionsOf(const http::HttpResponse& response);

// The tag of an `ETag: "<hex>"` header (2.2): 1..64 characters of
// [0-9a-f] between double quotes; nullopt for a missing or any other value
// (a weak W/"..." tag included).
std::optional<std::string> ParseETag(std::string_view value);

// What the latest response of the server said (1): every response of any
// status updates it; a response without the header turns everything off.
// Thread-safe.
class ExtensionState {
 public:
  void Update(const http::HttpResponse& response);
  ServerExtensions Get() const;

 private:
  mutable std::mutex mu_;
  ServerExtensions current_;  // guarded by mu_
};

// An HttpClient that passes every response to `state` (which must outlive
// it) before returning it. Same thread rules as `inner`.
std::unique_ptr<http::HttpClient> TrackExtensions(
    std::unique_ptr<http::HttpClient> inner, ExtensionState* state);

// The client side of one long-polled resource, `sessions` or `commands`
// (2.3). Not thread-safe: one per polling loop.
class LongPoll {
 public:
  // `state` must outlive the object. `configured`: porthole.long_poll_wait.
  LongPoll(const ExtensionState* state, config::Duration configured,
           std::chrono::milliseconds http_timeout);

  // The wait the next request would ask for, in seconds: the configured
  // wait, capped by the announced maximum and by `cap`, rounded down; 0
  // when there is no long poll (not announced, or under 1 s).
  uint32_t Wait(std::optional<std::chrono::milliseconds> cap = {}) const;

  // Makes `request` (a GET of the resource, URL without a query) the next
  // poll: with a wait W > 0, "?wait=W" and "&seen=TAG" (the tag of the last
  // answer, if any) are appended and its timeout becomes W + http_timeout.
  // Returns W (0: an ordinary request, left as it was).
  uint32_t Prepare(http::HttpRequest* request,
                   std::optional<std::chrono::milliseconds> cap = {});

  // The answer to the prepared request (any status) and how long it took:
  // its ETag becomes the next `seen` (none: forgotten).
  void Answered(const http::HttpResponse& response,
                std::chrono::milliseconds elapsed);
  // No answer (transport error, cancelled): the next poll is answered at
  // once (no `seen`).
  void Forget();

  // Whether the next poll may follow at once: the last request was a long
  // poll and its answer changed the tag or took at least half the wait, or
  // it was an ordinary one and long polls are offered now. Otherwise (no
  // long poll, or a server or proxy answering early with no change) the
  // caller waits poll_timeout as without the extension.
  bool AgainAtOnce() const;

  // The tag of the last answer ("" when none); Seed() starts another
  // LongPoll from it (the validator long-polls with the tag of the answer
  // the session was validated against).
  const std::string& tag() const { return tag_; }
  void Seed(std::string tag) { tag_ = std::move(tag); }

 private:
  const ExtensionState* state_;
  const config::Duration configured_;
  const std::chrono::milliseconds http_timeout_;
  std::string tag_;
  uint32_t last_wait_ = 0;  // of the last prepared request
  std::string last_seen_;   // the `seen` it carried
  bool again_ = false;
};

}  // namespace porthole::agent

#endif  // PORTHOLE_AGENT_SERVER_EXTENSIONS_H_
