// Fuzzes what porthole-agent reads of porthole-server's device API
// extensions (docs/device-api-extensions.md): the X-Porthole-Extensions
// value, the ETag, and the long-poll state they drive. The input is split
// at the first '\n': the header value, then the ETag value.
// Invariants: a parsed tag is 1..64 of [0-9a-f]; the long-poll maximum is
// 0 or 1..2^31-1; parsing is a pure function (the same twice); a request
// LongPoll prepares carries only a decimal wait and such a tag, and a
// timeout of wait + http_timeout. A violation aborts.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "agent/server_extensions.h"

namespace {

using namespace porthole::agent;  // NOLINT: a fuzz harness

bool IsTag(std::string_view t) {
  if (t.empty() || t.size() > 64) return false;
  for (char c : t) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  size_t nl = input.find('\n');
  std::string_view header = input.substr(0, nl);
  std::string_view etag =
      nl == std::string_view::npos ? std::string_view() : input.substr(nl + 1);

  ServerExtensions e = ParseExtensions(header);
  if (e.long_poll_max > 0x7fffffff) std::abort();
  if (!(ParseExtensions(header) == e)) std::abort();
  std::optional<std::string> tag = ParseETag(etag);
  if (tag && !IsTag(*tag)) std::abort();

  porthole::http::HttpResponse r;
  r.status = 200;
  r.headers = {{std::string(kExtensionsHeader), std::string(header)},
               {"etag", std::string(etag)}};
  ExtensionState state;
  state.Update(r);
  if (!(state.Get() == e)) std::abort();
  LongPoll poll(&state, porthole::config::Duration::Seconds(25),
                std::chrono::milliseconds(10000));
  for (int round = 0; round < 2; ++round) {
    porthole::http::HttpRequest req{.url = "https://s/ras/sessions"};
    uint32_t wait = poll.Prepare(&req);
    if (wait > 25 || wait > e.long_poll_max) std::abort();
    if (wait == 0) {
      if (req.url != "https://s/ras/sessions" || req.timeout) std::abort();
    } else {
      std::string want = "https://s/ras/sessions?wait=" + std::to_string(wait);
      if (!poll.tag().empty()) want += "&seen=" + poll.tag();
      if (req.url != want) std::abort();
      if (req.timeout != std::chrono::milliseconds(wait * 1000 + 10000)) {
        std::abort();
      }
    }
    poll.Answered(r, std::chrono::milliseconds(size));
    if (!poll.tag().empty() && !IsTag(poll.tag())) std::abort();
  }
  return 0;
}
