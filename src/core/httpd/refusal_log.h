// RefusalLog: one warning line per refused peer, at most one line per
// interval (a second) per kind of refusal, so a flood of bad clients cannot
// flood the log. The next line of a kind says how many of that kind were not
// logged. Thread-safe.
#ifndef PORTHOLE_CORE_HTTPD_REFUSAL_LOG_H_
#define PORTHOLE_CORE_HTTPD_REFUSAL_LOG_H_

#include <array>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

namespace porthole::httpd {

enum class Refusal {
  kTooManyConnections,
  kHandshakeFailed,
  kHandshakeTimeout,
  kHeaderTooLarge,
  kBodyTooLarge,
  kBadRequest,
  kReadTimeout,
  kWriteTimeout,
  kHandlerBug,  // not a refusal of the peer; rate-limited all the same
};
inline constexpr size_t kRefusalKinds = 9;

class RefusalLog {
 public:
  // Lines read "<name>: <peer>: <what>[ (N more not logged)]".
  RefusalLog(std::string name, std::chrono::milliseconds interval)
      : name_(std::move(name)), interval_(interval) {}

  void Log(Refusal kind, std::string_view peer, std::string_view what);

 private:
  struct Kind {
    std::mutex mu;
    std::chrono::steady_clock::time_point last;  // GUARDED_BY(mu)
    bool logged = false;                         // GUARDED_BY(mu)
    uint64_t suppressed = 0;                     // GUARDED_BY(mu)
  };
  const std::string name_;
  const std::chrono::milliseconds interval_;
  std::array<Kind, kRefusalKinds> kinds_;
};

}  // namespace porthole::httpd

#endif  // PORTHOLE_CORE_HTTPD_REFUSAL_LOG_H_
