#include "core/config/duration.h"

#include <array>
#include <limits>

#include "core/base/ascii.h"
#include "core/config/toml.h"

namespace porthole::config {
namespace {

struct Unit {
  std::string_view name;
  uint64_t secs;   // seconds per unit, or 0 for a sub-second unit
  uint64_t nanos;  // nanoseconds per unit when secs is 0
};

// Largest first: a text form must list its units in this order.
constexpr std::array<Unit, 6> kUnits = {{
    {"h", 3600, 0},
    {"m", 60, 0},
    {"s", 1, 0},
    {"ms", 0, 1'000'000},
    {"us", 0, 1'000},
    {"ns", 0, 1},
}};

constexpr char kUnitList[] = "(h, m, s, ms, us, ns)";

using ascii::IsDigit;

Status Bad(std::string_view text, std::string_view reason) {
  return Status::InvalidArgument("'" + PrintableText(text) + "' " +
                                 std::string(reason));
}

}  // namespace

Result<Duration> Duration::FromParts(uint64_t secs, uint64_t nanos) {
  uint64_t carry = nanos / kNanosPerSec;
  if (secs > std::numeric_limits<uint64_t>::max() - carry) {
    return Status::InvalidArgument("overflow: the duration is too long");
  }
  return Duration{secs + carry, static_cast<uint32_t>(nanos % kNanosPerSec)};
}

std::chrono::nanoseconds Duration::ToChrono() const {
  using Rep = std::chrono::nanoseconds::rep;
  constexpr Rep kMax = std::numeric_limits<Rep>::max();
  if (secs > static_cast<uint64_t>((kMax - nanos) / kNanosPerSec)) {
    return std::chrono::nanoseconds::max();
  }
  return std::chrono::nanoseconds(static_cast<Rep>(secs) * kNanosPerSec +
                                  nanos);
}

Result<Duration> ParseDuration(std::string_view text) {
  if (text.empty()) {
    return Status::InvalidArgument(
        "empty duration (write e.g. \"30s\", \"1500ms\", \"2m\", \"1h\")");
  }
  uint64_t secs = 0;
  uint64_t nanos = 0;    // < kUnits.size() * 1e9: no overflow
  size_t next_unit = 0;  // units must strictly decrease
  size_t i = 0;
  while (i < text.size()) {
    if (!IsDigit(text[i])) {
      return Bad(text,
                 "is not a duration like \"30s\", \"1500ms\", "
                 "\"2m\" or \"1h\"");
    }
    uint64_t n = 0;
    for (; i < text.size() && IsDigit(text[i]); ++i) {
      uint64_t d = static_cast<uint64_t>(text[i] - '0');
      if (n > (std::numeric_limits<uint64_t>::max() - d) / 10) {
        return Bad(text, "is too long a duration");
      }
      n = n * 10 + d;
    }
    size_t start = i;
    while (i < text.size() && ascii::IsAlpha(text[i])) ++i;
    std::string_view name = text.substr(start, i - start);
    if (name.empty()) {
      return Bad(text, std::string("has no unit ") + kUnitList);
    }
    size_t u = 0;
    while (u < kUnits.size() && kUnits[u].name != name) ++u;
    if (u == kUnits.size()) {
      return Bad(text, "has an unknown unit '" + PrintableText(name) + "' " +
                           kUnitList);
    }
    if (u < next_unit) {
      return Bad(text,
                 "must list its units from largest to smallest, "
                 "each once (e.g. \"1m30s\")");
    }
    next_unit = u + 1;
    const Unit& unit = kUnits[u];
    if (unit.secs != 0) {
      if (n > std::numeric_limits<uint64_t>::max() / unit.secs ||
          secs > std::numeric_limits<uint64_t>::max() - n * unit.secs) {
        return Bad(text, "is too long a duration");
      }
      secs += n * unit.secs;
    } else {
      uint64_t per_sec = Duration::kNanosPerSec / unit.nanos;
      uint64_t whole = n / per_sec;
      if (secs > std::numeric_limits<uint64_t>::max() - whole) {
        return Bad(text, "is too long a duration");
      }
      secs += whole;
      nanos += (n % per_sec) * unit.nanos;
    }
  }
  auto d = Duration::FromParts(secs, nanos);
  if (!d.ok()) return Bad(text, "is too long a duration");
  return d;
}

std::string FormatDuration(Duration d) {
  uint64_t parts[] = {
      d.secs / 3600,       (d.secs / 60) % 60,        d.secs % 60,
      d.nanos / 1'000'000, (d.nanos / 1'000) % 1'000, d.nanos % 1'000};
  std::string out;
  for (size_t u = 0; u < kUnits.size(); ++u) {
    if (parts[u] == 0) continue;
    out += std::to_string(parts[u]);
    out += kUnits[u].name;
  }
  return out.empty() ? "0s" : out;
}

}  // namespace porthole::config
