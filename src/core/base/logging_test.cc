#include "core/base/logging.h"

#include <gtest/gtest.h>

namespace porthole {
namespace {

TEST(LoggingTest, ParsesLevels) {
  spdlog::level::level_enum l = spdlog::level::info;
  EXPECT_TRUE(ParseLogLevel("debug", &l));
  EXPECT_EQ(l, spdlog::level::debug);
  EXPECT_TRUE(ParseLogLevel("rac=trace", &l));
  EXPECT_EQ(l, spdlog::level::trace);
  EXPECT_TRUE(ParseLogLevel("hyper=info,porthole=warn", &l));
  EXPECT_EQ(l, spdlog::level::warn);
  l = spdlog::level::info;
  EXPECT_FALSE(ParseLogLevel("hyper=debug", &l));
  EXPECT_FALSE(ParseLogLevel("loud", &l));
  EXPECT_EQ(l, spdlog::level::info);
}

TEST(LoggingTest, InitTwiceIsFine) {
  InitLogging("test");
  InitLogging("test");
  spdlog::info("logging works");
  SUCCEED();
}

}  // namespace
}  // namespace porthole
