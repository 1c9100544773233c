// RequestReader: one HTTP/1.x request read incrementally from bytes as they
// arrive, with the strict rules of httpd.h (Boost.Beast's parser underneath;
// this header does not include Boost). Not thread-safe; one per request.
//
//   RequestReader r(max_header_bytes);
//   feed bytes (Feed returns how many it took; keep the rest, append more)
//   until state() != kNeedMore;
//   kHeaderDone: look at method()/path(), decide the body limit, then
//                StartBody(limit) and feed on;
//   kComplete:   TakeRequest(); bytes not taken belong to the next request;
//   kError:      error_status() (400, 413, 417, 431, 501) and
//                error_reason(), one line, for the log and the error body.
#ifndef PORTHOLE_CORE_HTTPD_REQUEST_READER_H_
#define PORTHOLE_CORE_HTTPD_REQUEST_READER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/httpd/httpd.h"

namespace porthole::httpd {

class RequestReader {
 public:
  enum class State { kNeedMore, kHeaderDone, kComplete, kError };

  explicit RequestReader(size_t max_header_bytes);
  ~RequestReader();
  RequestReader(const RequestReader&) = delete;
  RequestReader& operator=(const RequestReader&) = delete;

  // Takes a prefix of `data` (possibly none, while a header is incomplete:
  // call again with the same bytes plus more). Only in kNeedMore.
  size_t Feed(std::string_view data);
  State state() const { return state_; }
  // True once any byte of the request was taken.
  bool started() const { return started_; }

  // From kHeaderDone on.
  const std::string& method() const { return request_.method; }
  const std::string& path() const { return request_.path; }
  std::optional<uint64_t> content_length() const;
  bool expects_continue() const { return expects_continue_; }
  // The client wants the connection kept after this request.
  bool keep_alive() const;
  bool is_head() const { return request_.method == "HEAD"; }
  int version() const { return request_.version; }

  // In kHeaderDone: bodies longer than `limit` are refused (413, at once
  // when Content-Length says so). Moves to kNeedMore or kComplete.
  void StartBody(uint64_t limit);
  // True when a body is still to come (e.g. for 100 Continue).
  bool body_pending() const;

  // In kComplete: the request without peer and client certificate.
  Request TakeRequest();

  int error_status() const { return error_status_; }
  const std::string& error_reason() const { return error_reason_; }

 private:
  struct Parser;
  void Fail(int status, std::string reason);
  void CheckHeader();

  std::unique_ptr<Parser> parser_;
  size_t max_header_bytes_;
  uint64_t body_limit_ = 0;
  State state_ = State::kNeedMore;
  bool started_ = false;
  bool header_checked_ = false;
  bool expects_continue_ = false;
  Request request_;
  int error_status_ = 0;
  std::string error_reason_;
};

}  // namespace porthole::httpd

#endif  // PORTHOLE_CORE_HTTPD_REQUEST_READER_H_
