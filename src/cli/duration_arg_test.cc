#include "cli/duration_arg.h"

#include <gtest/gtest.h>

namespace porthole::cli {
namespace {

using std::chrono::seconds;

TEST(DurationArgTest, Valid) {
  const std::pair<const char*, int64_t> cases[] = {
      {"90s", 90},    {"15m", 900},   {"1h", 3600},        {"1h30m", 5400},
      {"7d", 604800}, {"3600", 3600}, {"1d2h3m4s", 93784}, {"0h5m", 300},
      {"010m", 600},  {"1", 1},
  };
  for (const auto& [text, want] : cases) {
    auto d = ParseDurationArg(text, "--for");
    ASSERT_TRUE(d.ok()) << text << ": " << d.status().message();
    EXPECT_EQ(d->count(), want) << text;
  }
}

TEST(DurationArgTest, Invalid) {
  const std::pair<const char*, const char*> cases[] = {
      {"", "--for '': empty duration (use d, h, m, s: 90s, 15m, 1h30m, 7d)"},
      {"1x",
       "--for '1x': unknown unit 'x' (use d, h, m, s: 90s, 15m, 1h30m, "
       "7d)"},
      {"h",
       "--for 'h': expected a number at 'h' (use d, h, m, s: 90s, 15m, "
       "1h30m, 7d)"},
      {"-1h",
       "--for '-1h': expected a number at '-1h' (use d, h, m, s: 90s, "
       "15m, 1h30m, 7d)"},
      {"1h 30m",
       "--for '1h 30m': expected a number at ' 30m' (use d, h, m, "
       "s: 90s, 15m, 1h30m, 7d)"},
      {"30m1h",
       "--for '30m1h': units must go from large to small, each once "
       "(use d, h, m, s: 90s, 15m, 1h30m, 7d)"},
      {"1h1h",
       "--for '1h1h': units must go from large to small, each once "
       "(use d, h, m, s: 90s, 15m, 1h30m, 7d)"},
      {"1h30",
       "--for '1h30': missing unit after 30 (use d, h, m, s: 90s, "
       "15m, 1h30m, 7d)"},
      {"0s", "--for '0s': must be more than zero"},
      {"0", "--for '0': must be more than zero"},
      {"3700d", "--for '3700d': too long (at most 10 years)"},
      {"99999999999999999999s",
       "--for '99999999999999999999s': too long (at "
       "most 10 years)"},
      {"1.5h",
       "--for '1.5h': unknown unit '.' (use d, h, m, s: 90s, 15m, "
       "1h30m, 7d)"},
      {"1ms",
       "--for '1ms': expected a number at 's' (use d, h, m, s: 90s, "
       "15m, 1h30m, 7d)"},
  };
  for (const auto& [text, error] : cases) {
    auto d = ParseDurationArg(text, "--for");
    ASSERT_FALSE(d.ok()) << text;
    EXPECT_EQ(d.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(d.status().message(), error);
  }
}

TEST(DurationArgTest, FormatRoundTrips) {
  for (int64_t s : {1, 59, 60, 61, 3599, 3600, 5400, 86400, 93784, 604800}) {
    std::string text = FormatDurationArg(seconds(s));
    auto back = ParseDurationArg(text, "x");
    ASSERT_TRUE(back.ok()) << text;
    EXPECT_EQ(back->count(), s) << text;
  }
  EXPECT_EQ(FormatDurationArg(seconds(5400)), "1h30m");
  EXPECT_EQ(FormatDurationArg(seconds(0)), "0s");
}

}  // namespace
}  // namespace porthole::cli
