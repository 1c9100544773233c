#include "core/crypto/random.h"

#include <gtest/gtest.h>

#include <regex>
#include <set>

namespace porthole::crypto {
namespace {

TEST(RandomTest, BytesDiffer) {
  EXPECT_EQ(RandomBytes(0), "");
  EXPECT_EQ(RandomBytes(32).size(), 32u);
  EXPECT_NE(RandomBytes(16), RandomBytes(16));
}

TEST(RandomTest, UuidIsVersion4AndCanonical) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    std::string u = RandomUuidV4();
    ASSERT_EQ(u.size(), 36u);
    EXPECT_EQ(u[14], '4') << u;
    EXPECT_NE(std::string("89ab").find(u[19]), std::string::npos) << u;
    static const std::regex kForm(
        "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
    EXPECT_TRUE(std::regex_match(u, kForm)) << u;
    EXPECT_TRUE(seen.insert(u).second);
  }
}

}  // namespace
}  // namespace porthole::crypto
