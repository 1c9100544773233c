#include "cli/duration_arg.h"

#include <cstdint>

namespace porthole::cli {
namespace {

constexpr std::string_view kHint = " (use d, h, m, s: 90s, 15m, 1h30m, 7d)";

int64_t UnitSeconds(char unit) {
  switch (unit) {
    case 'd':
      return 86400;
    case 'h':
      return 3600;
    case 'm':
      return 60;
    case 's':
      return 1;
    default:
      return 0;
  }
}

}  // namespace

Result<std::chrono::seconds> ParseDurationArg(std::string_view text,
                                              std::string_view option) {
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument(std::string(option) + " '" +
                                   std::string(text) + "': " + why);
  };
  if (text.empty()) return bad("empty duration" + std::string(kHint));
  const int64_t max = kMaxDurationArg.count();
  int64_t total = 0;
  int64_t last_unit = INT64_MAX;
  size_t i = 0;
  while (i < text.size()) {
    size_t start = i;
    int64_t n = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      n = n * 10 + (text[i] - '0');
      if (n > max) return bad("too long (at most 10 years)");
      ++i;
    }
    if (i == start) {
      return bad("expected a number at '" + std::string(text.substr(i)) + "'" +
                 std::string(kHint));
    }
    if (i == text.size()) {
      if (start != 0)
        return bad("missing unit after " + std::to_string(n) +
                   std::string(kHint));
      total = n;  // a bare number of seconds
      break;
    }
    char unit = text[i++];
    int64_t secs = UnitSeconds(unit);
    if (secs == 0) {
      return bad(std::string("unknown unit '") + unit + "'" +
                 std::string(kHint));
    }
    if (secs >= last_unit) {
      return bad("units must go from large to small, each once" +
                 std::string(kHint));
    }
    last_unit = secs;
    if (n > max / secs) return bad("too long (at most 10 years)");
    total += n * secs;
    if (total > max) return bad("too long (at most 10 years)");
  }
  if (total > max) return bad("too long (at most 10 years)");
  if (total == 0) return bad("must be more than zero");
  return std::chrono::seconds(total);
}

std::string FormatDurationArg(std::chrono::seconds d) {
  int64_t s = d.count();
  if (s <= 0) return "0s";
  std::string out;
  for (char unit : {'d', 'h', 'm', 's'}) {
    int64_t u = UnitSeconds(unit);
    if (s >= u) {
      out += std::to_string(s / u) + unit;
      s %= u;
    }
  }
  return out;
}

}  // namespace porthole::cli
