// Duration: a span of time as RAC's config writes it.
//
// RAC (Rust serde) encodes a std::time::Duration as a table
// `{ secs = <u64>, nanos = <u32> }`; porthole also reads the text form
// "1h", "2m", "30s", "1500ms", "250us", "10ns" and sums such as "1m30s"
// (units strictly decreasing, each a non-negative decimal integer, no spaces
// or signs). Values are plain data: copyable, comparable, thread-compatible.
#ifndef PORTHOLE_CORE_CONFIG_DURATION_H_
#define PORTHOLE_CORE_CONFIG_DURATION_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/base/status.h"

namespace porthole::config {

struct Duration {
  uint64_t secs = 0;
  uint32_t nanos = 0;  // always < 1'000'000'000

  static constexpr uint32_t kNanosPerSec = 1'000'000'000;

  static constexpr Duration Seconds(uint64_t s) { return {s, 0}; }

  // secs + nanos, carrying whole seconds out of `nanos` as Rust's
  // Duration::new does; kInvalidArgument "overflow" when secs would wrap.
  static Result<Duration> FromParts(uint64_t secs, uint64_t nanos);

  // Saturates at std::chrono::nanoseconds::max() (about 292 years).
  std::chrono::nanoseconds ToChrono() const;

  friend bool operator==(const Duration&, const Duration&) = default;
  friend auto operator<=>(const Duration&, const Duration&) = default;
};

// Parses the text form. Errors (kInvalidArgument) read like
// "'30' has no unit (h, m, s, ms, us, ns)" and quote the text.
Result<Duration> ParseDuration(std::string_view text);

// The shortest text form that ParseDuration() reads back exactly: "30s",
// "1m30s", "1s500ms", "0s".
std::string FormatDuration(Duration d);

}  // namespace porthole::config

#endif  // PORTHOLE_CORE_CONFIG_DURATION_H_
