#include "core/config/duration.h"

#include <gtest/gtest.h>

namespace porthole::config {
namespace {

struct GoodCase {
  const char* text;
  Duration want;
  const char* formatted;  // FormatDuration(want)
};

TEST(DurationTest, ParsesTextForms) {
  const GoodCase cases[] = {
      {"30s", {30, 0}, "30s"},
      {"1500ms", {1, 500'000'000}, "1s500ms"},
      {"2m", {120, 0}, "2m"},
      {"1h", {3600, 0}, "1h"},
      {"1m30s", {90, 0}, "1m30s"},
      {"0s", {0, 0}, "0s"},
      {"10ns", {0, 10}, "10ns"},
      {"250us", {0, 250'000}, "250us"},
      {"1h2m3s4ms5us6ns", {3723, 4'005'006}, "1h2m3s4ms5us6ns"},
      {"90m", {5400, 0}, "1h30m"},
      {"2000000000ns", {2, 0}, "2s"},
      {"18446744073709551615s",
       {18446744073709551615u, 0},
       "5124095576030431h15s"},
  };
  for (const GoodCase& c : cases) {
    SCOPED_TRACE(c.text);
    auto d = ParseDuration(c.text);
    ASSERT_TRUE(d.ok()) << d.status().message();
    EXPECT_EQ(*d, c.want);
    EXPECT_EQ(FormatDuration(*d), c.formatted);
    auto back = ParseDuration(FormatDuration(*d));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, *d);
  }
}

TEST(DurationTest, RejectsBadText) {
  const std::pair<const char*, const char*> cases[] = {
      {"", "empty duration (write e.g. \"30s\", \"1500ms\", \"2m\", \"1h\")"},
      {"30", "'30' has no unit (h, m, s, ms, us, ns)"},
      {"30x", "'30x' has an unknown unit 'x' (h, m, s, ms, us, ns)"},
      {"30S", "'30S' has an unknown unit 'S' (h, m, s, ms, us, ns)"},
      {"1.5s", "'1.5s' has no unit (h, m, s, ms, us, ns)"},
      {"-3s",
       "'-3s' is not a duration like \"30s\", \"1500ms\", \"2m\" or \"1h\""},
      {" 3s",
       "' 3s' is not a duration like \"30s\", \"1500ms\", \"2m\" or \"1h\""},
      {"3s ",
       "'3s ' is not a duration like \"30s\", \"1500ms\", \"2m\" or \"1h\""},
      {"s", "'s' is not a duration like \"30s\", \"1500ms\", \"2m\" or \"1h\""},
      {"1s1m",
       "'1s1m' must list its units from largest to smallest, each once "
       "(e.g. \"1m30s\")"},
      {"1s1s",
       "'1s1s' must list its units from largest to smallest, each once "
       "(e.g. \"1m30s\")"},
      {"18446744073709551616s",
       "'18446744073709551616s' is too long a duration"},
      {"5124095576030432h", "'5124095576030432h' is too long a duration"},
      {"18446744073709551615s1000ms",
       "'18446744073709551615s1000ms' is too long a duration"},
  };
  for (const auto& [text, message] : cases) {
    SCOPED_TRACE(text);
    auto d = ParseDuration(text);
    ASSERT_FALSE(d.ok());
    EXPECT_EQ(d.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(d.status().message(), message);
  }
}

TEST(DurationTest, FromPartsCarriesNanosLikeRust) {
  auto d = Duration::FromParts(1, 2'500'000'000u);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, (Duration{3, 500'000'000}));
  auto overflow = Duration::FromParts(18446744073709551615u, 1'000'000'000u);
  ASSERT_FALSE(overflow.ok());
  EXPECT_EQ(overflow.status().message(), "overflow: the duration is too long");
}

TEST(DurationTest, ToChronoSaturates) {
  EXPECT_EQ(Duration({3, 5}).ToChrono(),
            std::chrono::nanoseconds(3'000'000'005));
  EXPECT_EQ(Duration({18446744073709551615u, 0}).ToChrono(),
            std::chrono::nanoseconds::max());
}

}  // namespace
}  // namespace porthole::config
