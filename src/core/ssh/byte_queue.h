// A FIFO of bytes with a hard capacity: the per-direction buffer of a
// tunnelled connection. Storage grows on demand up to the capacity; when the
// queue drains, storage over kKeepWhenEmpty bytes is released, so an idle
// connection holds little. Not thread-safe.
#ifndef PORTHOLE_CORE_SSH_BYTE_QUEUE_H_
#define PORTHOLE_CORE_SSH_BYTE_QUEUE_H_

#include <cstddef>
#include <string_view>
#include <vector>

namespace porthole::ssh {

class ByteQueue {
 public:
  static constexpr size_t kKeepWhenEmpty = 64 * 1024;

  explicit ByteQueue(size_t capacity) : capacity_(capacity) {}

  size_t size() const { return end_ - begin_; }
  bool empty() const { return begin_ == end_; }
  size_t capacity() const { return capacity_; }
  size_t room() const { return capacity_ - size(); }
  // The largest size() ever reached.
  size_t peak() const { return peak_; }

  // Appends min(data.size(), room()) bytes; returns how many.
  size_t Append(std::string_view data);

  // A writable region of at least min(want, room()) bytes at the end (empty
  // when full). Fill a prefix of it, then Commit() that many bytes.
  char* PrepareAppend(size_t want, size_t* got);
  void Commit(size_t n);

  // The queued bytes (one contiguous region).
  std::string_view Front() const {
    return std::string_view(storage_.data() + begin_, size());
  }
  void Consume(size_t n);

 private:
  void MakeRoomAtEnd(size_t n);

  size_t capacity_;
  std::vector<char> storage_;
  size_t begin_ = 0, end_ = 0;
  size_t peak_ = 0;
};

}  // namespace porthole::ssh

#endif  // PORTHOLE_CORE_SSH_BYTE_QUEUE_H_
