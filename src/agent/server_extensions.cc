#include "agent/server_extensions.h"

#include <algorithm>
#include <utility>

namespace porthole::agent {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

// 1..2^31-1 in plain decimal; 0 for anything else.
uint32_t ParseSeconds(std::string_view s) {
  if (s.empty() || s.size() > 10 || s[0] == '0') return 0;
  uint64_t n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return 0;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  return n <= 0x7fffffff ? static_cast<uint32_t>(n) : 0;
}

class TrackingClient : public http::HttpClient {
 public:
  TrackingClient(std::unique_ptr<http::HttpClient> inner, ExtensionState* state)
      : inner_(std::move(inner)), state_(state) {}

  Result<http::HttpResponse> Send(const http::HttpRequest& request) override {
    Result<http::HttpResponse> r = inner_->Send(request);
    if (r.ok()) state_->Update(*r);
    return r;
  }

 private:
  std::unique_ptr<http::HttpClient> inner_;
  ExtensionState* state_;
};

}  // namespace

ServerExtensions ParseExtensions(std::string_view value) {
  ServerExtensions e;
  while (true) {
    size_t comma = value.find(',');
    std::string_view token = Trim(value.substr(0, comma));
    size_t eq = token.find('=');
    std::string_view name = token.substr(0, eq);
    std::optional<std::string_view> arg;
    if (eq != std::string_view::npos) arg = token.substr(eq + 1);
    if (name == "long-poll") {
      e.long_poll_max = arg ? ParseSeconds(*arg) : 0;
    } else if (name == "host-keys") {
      e.host_keys = !arg.has_value();
    }
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return e;
}

ServerExtensions ExtensionsOf(const http::HttpResponse& response) {
  std::string all;
  bool any = false;
  for (const auto& [name, value] : response.headers) {
    if (name != kExtensionsHeader) continue;
    if (any) all += ",";
    all += value;
    any = true;
  }
  return any ? ParseExtensions(all) : ServerExtensions();
}

std::optional<std::string> ParseETag(std::string_view value) {
  value = Trim(value);
  if (value.size() < 3 || value.size() > 66 || value.front() != '"' ||
      value.back() != '"') {
    return std::nullopt;
  }
  std::string_view tag = value.substr(1, value.size() - 2);
  for (char c : tag) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return std::nullopt;
    }
  }
  return std::string(tag);
}

void ExtensionState::Update(const http::HttpResponse& response) {
  ServerExtensions e = ExtensionsOf(response);
  std::lock_guard<std::mutex> lock(mu_);
  current_ = e;
}

ServerExtensions ExtensionState::Get() const {
  std::lock_guard<std::mutex> lock(mu_);
  return current_;
}

std::unique_ptr<http::HttpClient> TrackExtensions(
    std::unique_ptr<http::HttpClient> inner, ExtensionState* state) {
  return std::make_unique<TrackingClient>(std::move(inner), state);
}

LongPoll::LongPoll(const ExtensionState* state, config::Duration configured,
                   std::chrono::milliseconds http_timeout)
    : state_(state), configured_(configured), http_timeout_(http_timeout) {}

uint32_t LongPoll::Wait(std::optional<std::chrono::milliseconds> cap) const {
  const uint32_t max = state_->Get().long_poll_max;
  if (max == 0) return 0;
  uint64_t wait = std::min<uint64_t>(configured_.secs, max);
  if (cap) {
    wait = std::min<uint64_t>(
        wait, static_cast<uint64_t>(std::max<int64_t>(cap->count(), 0) / 1000));
  }
  return static_cast<uint32_t>(wait);
}

uint32_t LongPoll::Prepare(http::HttpRequest* request,
                           std::optional<std::chrono::milliseconds> cap) {
  last_wait_ = Wait(cap);
  last_seen_.clear();
  if (last_wait_ == 0) return 0;
  request->url += "?wait=" + std::to_string(last_wait_);
  if (!tag_.empty()) {
    request->url += "&seen=" + tag_;
    last_seen_ = tag_;
  }
  request->timeout = std::chrono::seconds(last_wait_) + http_timeout_;
  return last_wait_;
}

void LongPoll::Answered(const http::HttpResponse& response,
                        std::chrono::milliseconds elapsed) {
  std::optional<std::string> tag = ParseETag(response.Header("etag"));
  const bool changed = tag && *tag != last_seen_;
  again_ = last_wait_ > 0 &&
           (changed || elapsed >= std::chrono::milliseconds(
                                      uint64_t{last_wait_} * 1000 / 2));
  tag_ = tag.value_or("");
}

void LongPoll::Forget() {
  tag_.clear();
  again_ = false;
}

bool LongPoll::AgainAtOnce() const {
  // An ordinary request answered before the announcement was known: the
  // first long poll follows at once.
  return again_ || (last_wait_ == 0 && Wait() > 0);
}

}  // namespace porthole::agent
