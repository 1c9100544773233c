#include "agent/backoff.h"

#include <gtest/gtest.h>

namespace porthole::agent {
namespace {

using std::chrono::milliseconds;

TEST(Backoff, DoublesWithinJitterUpToTheCap) {
  Backoff b({.initial = milliseconds(1000), .max = milliseconds(8000)}, 42);
  const int64_t ceilings[] = {1000, 2000, 4000, 8000, 8000, 8000};
  for (int64_t c : ceilings) {
    int64_t d = b.Next().count();
    EXPECT_GE(d, c / 2) << c;
    EXPECT_LE(d, c) << c;
  }
  EXPECT_EQ(b.attempts(), 6);
}

TEST(Backoff, ResetStartsOver) {
  Backoff b({.initial = milliseconds(100), .max = milliseconds(100000)}, 7);
  for (int i = 0; i < 10; ++i) b.Next();
  b.Reset();
  EXPECT_LE(b.Next().count(), 100);
}

TEST(Backoff, JitterSpreadsDevicesThatFailedTogether) {
  // Two agents with different seeds do not retry in lock step.
  Backoff a({.initial = milliseconds(10000), .max = milliseconds(10000)}, 1);
  Backoff b({.initial = milliseconds(10000), .max = milliseconds(10000)}, 2);
  int same = 0;
  for (int i = 0; i < 20; ++i) same += a.Next() == b.Next();
  EXPECT_LT(same, 3);
}

TEST(Backoff, NonsenseOptionsAreClamped) {
  Backoff b({.initial = milliseconds(0), .max = milliseconds(0)}, 3);
  EXPECT_EQ(b.Next().count(), 1);
}

}  // namespace
}  // namespace porthole::agent
