#include "core/tuf/rfc3339.h"

#include <chrono>
#include <cstdio>

namespace porthole::tuf {
namespace {

using std::chrono::days;
using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::nanoseconds;
using std::chrono::seconds;

// Reads exactly `n` decimal digits at `*pos`.
bool Digits(std::string_view s, size_t* pos, int n, int* value) {
  if (s.size() - *pos < static_cast<size_t>(n)) return false;
  int v = 0;
  for (int i = 0; i < n; ++i) {
    char c = s[*pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *pos += n;
  *value = v;
  return true;
}

bool Expect(std::string_view s, size_t* pos, char a, char b = '\0') {
  if (*pos >= s.size()) return false;
  char c = s[*pos];
  if (c != a && (b == '\0' || c != b)) return false;
  ++*pos;
  return true;
}

std::string Format(SystemTime time, bool nanos) {
  auto since = time.time_since_epoch();
  auto day = std::chrono::floor<days>(since);
  std::chrono::year_month_day ymd{std::chrono::sys_days(day)};
  auto rest = std::chrono::duration_cast<nanoseconds>(since - day);
  long long h = std::chrono::duration_cast<hours>(rest).count();
  long long m = std::chrono::duration_cast<minutes>(rest).count() % 60;
  long long s = std::chrono::duration_cast<seconds>(rest).count() % 60;
  long long ns = rest.count() % 1000000000;
  char buf[64];
  if (nanos && ns != 0) {
    std::snprintf(
        buf, sizeof buf, "%04d-%02u-%02uT%02lld:%02lld:%02lld.%09lldZ",
        static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
        static_cast<unsigned>(ymd.day()), h, m, s, ns);
  } else {
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02lld:%02lld:%02lldZ",
                  static_cast<int>(ymd.year()),
                  static_cast<unsigned>(ymd.month()),
                  static_cast<unsigned>(ymd.day()), h, m, s);
  }
  return buf;
}

}  // namespace

Result<SystemTime> ParseRfc3339(std::string_view text) {
  auto bad = [&] {
    return Status::InvalidArgument("not an RFC 3339 timestamp: '" +
                                   std::string(text.substr(0, 40)) + "'");
  };
  size_t pos = 0;
  int year, month, day, hour, minute, second;
  if (!Digits(text, &pos, 4, &year) || !Expect(text, &pos, '-') ||
      !Digits(text, &pos, 2, &month) || !Expect(text, &pos, '-') ||
      !Digits(text, &pos, 2, &day) || !Expect(text, &pos, 'T', 't') ||
      !Digits(text, &pos, 2, &hour) || !Expect(text, &pos, ':') ||
      !Digits(text, &pos, 2, &minute) || !Expect(text, &pos, ':') ||
      !Digits(text, &pos, 2, &second)) {
    return bad();
  }
  if (hour > 23 || minute > 59 || second > 59) return bad();
  std::chrono::year_month_day ymd{std::chrono::year(year),
                                  std::chrono::month(month),
                                  std::chrono::day(day)};
  if (!ymd.ok()) return bad();

  long long ns = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    int n = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (n < 9) ns = ns * 10 + (text[pos] - '0');
      ++n;
      ++pos;
    }
    if (n == 0) return bad();
    for (int i = n; i < 9; ++i) ns *= 10;
  }

  long long offset_minutes = 0;
  if (Expect(text, &pos, 'Z', 'z')) {
    // UTC
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    bool negative = text[pos] == '-';
    ++pos;
    int oh, om;
    if (!Digits(text, &pos, 2, &oh) || !Expect(text, &pos, ':') ||
        !Digits(text, &pos, 2, &om) || oh > 23 || om > 59) {
      return bad();
    }
    offset_minutes = (negative ? -1 : 1) * (oh * 60 + om);
  } else {
    return bad();
  }
  if (pos != text.size()) return bad();

  // Whole seconds first: years up to 9999 fit in seconds but not in the
  // nanosecond ticks of SystemTime (about 1677..2262), so times outside
  // that range saturate ("9999-12-31T23:59:59Z" as "never").
  seconds secs = std::chrono::sys_days(ymd).time_since_epoch() + hours(hour) +
                 minutes(minute) + seconds(second) - minutes(offset_minutes);
  constexpr auto kMax =
      std::chrono::floor<seconds>(SystemTime::max().time_since_epoch()) -
      seconds(1);
  constexpr auto kMin =
      std::chrono::ceil<seconds>(SystemTime::min().time_since_epoch()) +
      seconds(1);
  if (secs >= kMax) return SystemTime::max();
  if (secs <= kMin) return SystemTime::min();
  return SystemTime(
      std::chrono::duration_cast<SystemTime::duration>(secs + nanoseconds(ns)));
}

std::string FormatRfc3339(SystemTime time) { return Format(time, false); }

std::string FormatRfc3339Nanos(SystemTime time) { return Format(time, true); }

}  // namespace porthole::tuf
