#include "core/ssh/byte_queue.h"

#include <gtest/gtest.h>

#include <string>

namespace porthole::ssh {
namespace {

TEST(ByteQueue, AppendStopsAtCapacity) {
  ByteQueue q(10);
  EXPECT_EQ(q.Append("hello"), 5u);
  EXPECT_EQ(q.Append("world!!"), 5u);
  EXPECT_EQ(q.size(), 10u);
  EXPECT_EQ(q.room(), 0u);
  EXPECT_EQ(q.Append("x"), 0u);
  EXPECT_EQ(q.Front(), "helloworld");
  EXPECT_EQ(q.peak(), 10u);
}

TEST(ByteQueue, FifoAcrossCompaction) {
  ByteQueue q(8);
  std::string out;
  std::string in = "abcdefghijklmnopqrstuvwxyz0123456789";
  size_t pos = 0;
  while (out.size() < in.size()) {
    pos += q.Append(std::string_view(in).substr(pos, 3));
    std::string_view f = q.Front();
    size_t take = std::min<size_t>(f.size(), 2);
    out.append(f.substr(0, take));
    q.Consume(take);
  }
  EXPECT_EQ(out, in);
  EXPECT_LE(q.peak(), 8u);
}

TEST(ByteQueue, PrepareAndCommit) {
  ByteQueue q(100);
  size_t got = 0;
  char* p = q.PrepareAppend(40, &got);
  ASSERT_GE(got, 40u);
  ASSERT_LE(got, 100u);
  std::fill(p, p + 40, 'z');
  q.Commit(40);
  EXPECT_EQ(q.Front(), std::string(40, 'z'));
  q.Consume(10);
  p = q.PrepareAppend(1000, &got);
  EXPECT_EQ(got, 70u);  // never more than room()
  q.Commit(70);
  EXPECT_EQ(q.room(), 0u);
  q.PrepareAppend(5, &got);
  EXPECT_EQ(got, 0u);
  q.Consume(100);
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.peak(), 100u);
}

}  // namespace
}  // namespace porthole::ssh
