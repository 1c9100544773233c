#include "core/ssh/byte_queue.h"

#include <algorithm>
#include <cassert>
#include <cstring>

namespace porthole::ssh {

void ByteQueue::MakeRoomAtEnd(size_t n) {
  assert(n <= room());
  if (storage_.size() - end_ >= n) return;
  // Move the live bytes to the front, then grow (doubling, capped).
  if (begin_ > 0) {
    std::memmove(storage_.data(), storage_.data() + begin_, size());
    end_ -= begin_;
    begin_ = 0;
  }
  if (storage_.size() - end_ < n) {
    size_t want = std::max(end_ + n, std::min(capacity_, storage_.size() * 2));
    storage_.resize(std::min(capacity_, want));
  }
}

size_t ByteQueue::Append(std::string_view data) {
  size_t n = std::min(data.size(), room());
  if (n == 0) return 0;
  size_t got;
  char* dst = PrepareAppend(n, &got);
  std::memcpy(dst, data.data(), n);
  Commit(n);
  return n;
}

char* ByteQueue::PrepareAppend(size_t want, size_t* got) {
  want = std::min(want, room());
  MakeRoomAtEnd(want);
  *got = std::min(storage_.size() - end_, room());
  return storage_.data() + end_;
}

void ByteQueue::Commit(size_t n) {
  assert(n <= room() && end_ + n <= storage_.size());
  end_ += n;
  peak_ = std::max(peak_, size());
}

void ByteQueue::Consume(size_t n) {
  assert(n <= size());
  begin_ += n;
  if (begin_ == end_) {
    begin_ = end_ = 0;
    // Many idle connections should cost little, but a steady stream should
    // not allocate per chunk: keep small storage, drop large.
    if (storage_.size() > kKeepWhenEmpty) std::vector<char>().swap(storage_);
  }
}

}  // namespace porthole::ssh
