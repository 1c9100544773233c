#include "cli/valid_for.h"

#include <chrono>
#include <string>

namespace porthole::cli {

Result<std::optional<SystemTime>> ParseValidFor(std::string_view text,
                                                SystemTime now) {
  using namespace std::chrono;
  const std::string quoted = "'" + std::string(text) + "'";
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("VALID_FOR " + quoted + ": " + why);
  };
  if (text == "forever") return std::optional<SystemTime>();
  if (text.size() < 2) {
    return bad(
        "expected Nh, Nd, Nw, Nm (hours, days, weeks, months) or "
        "forever");
  }
  char unit = text.back();
  std::string_view digits = text.substr(0, text.size() - 1);
  if (unit != 'h' && unit != 'd' && unit != 'w' && unit != 'm') {
    return bad("unknown unit '" + std::string(1, unit) +
               "' (h, d, w, m, or forever)");
  }
  for (char c : digits) {
    if (c < '0' || c > '9') {
      return bad("expected a positive whole number before '" +
                 std::string(1, unit) + "'");
    }
  }
  if (digits[0] == '0') return bad("must be at least 1");
  if (digits.size() > 6) return bad("too long (use forever)");
  long n = std::stol(std::string(digits));

  sys_seconds start = floor<minutes>(time_point_cast<seconds>(now));
  sys_seconds end;
  switch (unit) {
    case 'h':
      end = start + hours(n);
      break;
    case 'd':
      end = start + days(n);
      break;
    case 'w':
      end = start + weeks(n);
      break;
    default: {
      auto day = floor<days>(start);
      year_month_day ymd{day};
      year_month_day shifted = ymd + months(n);
      if (!shifted.ok()) {  // clamp to the month's last day
        shifted = shifted.year() / shifted.month() / last;
      }
      end = sys_days(shifted) + (start - day);
    }
  }
  auto start_day = floor<days>(start);
  auto limit = sys_days(year_month_day{start_day} + years(kMaxValidForYears)) +
               (start - start_day);
  if (end > limit) {
    return bad("longer than " + std::to_string(kMaxValidForYears) +
               " years (use forever for a permanent key)");
  }
  return std::optional<SystemTime>(end);
}

}  // namespace porthole::cli
