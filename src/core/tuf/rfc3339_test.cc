#include "core/tuf/rfc3339.h"

#include <gtest/gtest.h>

#include <chrono>

namespace porthole::tuf {
namespace {

using std::chrono::nanoseconds;
using std::chrono::seconds;

long long UnixNanos(SystemTime t) {
  return std::chrono::duration_cast<nanoseconds>(t.time_since_epoch()).count();
}

TEST(Rfc3339Test, Parses) {
  struct Case {
    const char* text;
    long long unix_seconds;
    long long extra_nanos;
  };
  const Case kCases[] = {
      {"1970-01-01T00:00:00Z", 0, 0},
      {"2034-03-12T15:48:31Z", 2025791311, 0},
      {"2034-03-12t15:48:31z", 2025791311, 0},
      {"2034-03-12T15:48:31.000Z", 2025791311, 0},
      {"2034-03-12T16:48:31+01:00", 2025791311, 0},
      {"2034-03-12T15:18:31-00:30", 2025791311, 0},
      {"2025-07-30T16:10:39.123456789Z", 1753891839, 123456789},
      {"2025-07-30T16:10:39.1Z", 1753891839, 100000000},
      {"2025-07-30T16:10:39.1234567891Z", 1753891839, 123456789},
      {"2024-02-29T00:00:00Z", 1709164800, 0},
      {"1969-12-31T23:59:59Z", -1, 0},
  };
  for (const Case& c : kCases) {
    Result<SystemTime> t = ParseRfc3339(c.text);
    ASSERT_TRUE(t.ok()) << c.text << ": " << t.status().message();
    EXPECT_EQ(UnixNanos(*t), c.unix_seconds * 1000000000LL + c.extra_nanos)
        << c.text;
  }
}

TEST(Rfc3339Test, Refuses) {
  const char* kBad[] = {
      "",
      "2034-03-12",
      "2034-03-12T15:48:31",   // no offset
      "2034-03-12 15:48:31Z",  // space separator
      "2034-3-12T15:48:31Z",
      "2034-03-12T15:48:60Z",  // leap second
      "2034-02-30T00:00:00Z",  // no such day
      "2023-02-29T00:00:00Z",
      "2034-13-01T00:00:00Z",
      "2034-03-12T24:00:00Z",
      "2034-03-12T15:48:31.Z",
      "2034-03-12T15:48:31+0100",
      "2034-03-12T15:48:31+24:00",
      "2034-03-12T15:48:31Zjunk",
      "+2034-03-12T15:48:31Z",
  };
  for (const char* text : kBad) {
    EXPECT_FALSE(ParseRfc3339(text).ok()) << text;
  }
  EXPECT_EQ(ParseRfc3339("x").status().message(),
            "not an RFC 3339 timestamp: 'x'");
}

TEST(Rfc3339Test, FarFutureSaturates) {
  Result<SystemTime> t = ParseRfc3339("9999-12-31T23:59:59Z");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(*t, SystemTime::max());
  Result<SystemTime> old = ParseRfc3339("0001-01-01T00:00:00Z");
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(*old, SystemTime::min());
}

TEST(Rfc3339Test, Formats) {
  SystemTime t = SystemTime(seconds(2025791311));
  EXPECT_EQ(FormatRfc3339(t), "2034-03-12T15:48:31Z");
  EXPECT_EQ(FormatRfc3339Nanos(t), "2034-03-12T15:48:31Z");
  SystemTime n = t + nanoseconds(5);
  EXPECT_EQ(FormatRfc3339(n), "2034-03-12T15:48:31Z");
  EXPECT_EQ(FormatRfc3339Nanos(n), "2034-03-12T15:48:31.000000005Z");
  EXPECT_EQ(ParseRfc3339(FormatRfc3339Nanos(n)).value(), n);
  EXPECT_EQ(FormatRfc3339(SystemTime(seconds(-1))), "1969-12-31T23:59:59Z");
}

}  // namespace
}  // namespace porthole::tuf
