#include "core/httpd/refusal_log.h"

#include <spdlog/spdlog.h>

namespace porthole::httpd {

void RefusalLog::Log(Refusal kind, std::string_view peer,
                     std::string_view what) {
  Kind& k = kinds_[static_cast<size_t>(kind)];
  auto now = std::chrono::steady_clock::now();
  uint64_t suppressed;
  {
    std::lock_guard<std::mutex> lock(k.mu);
    if (k.logged && now - k.last < interval_) {
      ++k.suppressed;
      return;
    }
    k.logged = true;
    k.last = now;
    suppressed = k.suppressed;
    k.suppressed = 0;
  }
  auto level =
      kind == Refusal::kHandlerBug ? spdlog::level::err : spdlog::level::warn;
  if (suppressed == 0) {
    spdlog::log(level, "{}: {}: {}", name_, peer, what);
  } else {
    spdlog::log(level, "{}: {}: {} ({} more not logged)", name_, peer, what,
                suppressed);
  }
}

}  // namespace porthole::httpd
