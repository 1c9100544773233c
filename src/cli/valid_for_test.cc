#include "cli/valid_for.h"

#include <gtest/gtest.h>

#include <chrono>

namespace porthole::cli {
namespace {

using namespace std::chrono;

SystemTime At(int y, unsigned m, unsigned d, int h, int min, int s = 0) {
  return sys_days(year(y) / month(m) / day(d)) + hours(h) + minutes(min) +
         seconds(s);
}

TEST(ValidForTest, Units) {
  SystemTime now = At(2026, 11, 23, 9, 5, 37);
  EXPECT_EQ(**ParseValidFor("1h", now), At(2026, 11, 23, 10, 5));
  EXPECT_EQ(**ParseValidFor("2d", now), At(2026, 11, 25, 9, 5));
  EXPECT_EQ(**ParseValidFor("1w", now), At(2026, 11, 30, 9, 5));
  EXPECT_EQ(**ParseValidFor("3m", now), At(2027, 2, 23, 9, 5));
  EXPECT_EQ(**ParseValidFor("120m", now), At(2036, 11, 23, 9, 5));
  EXPECT_FALSE(ParseValidFor("forever", now)->has_value());
}

TEST(ValidForTest, CalendarMonthsClampToMonthEnd) {
  EXPECT_EQ(**ParseValidFor("1m", At(2027, 1, 31, 12, 0)),
            At(2027, 2, 28, 12, 0));
  EXPECT_EQ(**ParseValidFor("1m", At(2028, 1, 31, 12, 0)),
            At(2028, 2, 29, 12, 0));
  EXPECT_EQ(**ParseValidFor("13m", At(2026, 1, 31, 0, 0)),
            At(2027, 2, 28, 0, 0));
}

TEST(ValidForTest, BadValues) {
  SystemTime now = At(2026, 11, 23, 9, 5);
  struct Case {
    const char* text;
    const char* error;
  } cases[] = {
      {"abc", "VALID_FOR 'abc': unknown unit 'c' (h, d, w, m, or forever)"},
      {"0d", "VALID_FOR '0d': must be at least 1"},
      {"-3d", "VALID_FOR '-3d': expected a positive whole number before 'd'"},
      {"99999m",
       "VALID_FOR '99999m': longer than 10 years (use forever for a permanent "
       "key)"},
      {"3x", "VALID_FOR '3x': unknown unit 'x' (h, d, w, m, or forever)"},
      {"",
       "VALID_FOR '': expected Nh, Nd, Nw, Nm (hours, days, weeks, months) "
       "or forever"},
      {"h",
       "VALID_FOR 'h': expected Nh, Nd, Nw, Nm (hours, days, weeks, "
       "months) or forever"},
      {"1.5h", "VALID_FOR '1.5h': expected a positive whole number before 'h'"},
      {"+1h", "VALID_FOR '+1h': expected a positive whole number before 'h'"},
      {"01h", "VALID_FOR '01h': must be at least 1"},
      {"1 h", "VALID_FOR '1 h': expected a positive whole number before 'h'"},
      {"1H", "VALID_FOR '1H': unknown unit 'H' (h, d, w, m, or forever)"},
      {"9999999999999999999h",
       "VALID_FOR '9999999999999999999h': too long "
       "(use forever)"},
      {"Forever",
       "VALID_FOR 'Forever': unknown unit 'r' (h, d, w, m, or "
       "forever)"},
  };
  for (const auto& c : cases) {
    auto r = ParseValidFor(c.text, now);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(r.status().message(), c.error);
  }
}

TEST(ValidForTest, TenYearsIsTheLimit) {
  SystemTime now = At(2026, 11, 23, 9, 5);
  EXPECT_TRUE(ParseValidFor("120m", now).ok());
  EXPECT_FALSE(ParseValidFor("121m", now).ok());
  EXPECT_TRUE(ParseValidFor("3652d", now).ok());
  EXPECT_FALSE(ParseValidFor("3654d", now).ok());
}

}  // namespace
}  // namespace porthole::cli
