// The only file that includes Boost.Beast.
#include "core/httpd/request_reader.h"

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <algorithm>
#include <cassert>
#include <cctype>
#include <limits>

#include "core/httpd/target.h"

namespace porthole::httpd {

namespace http = boost::beast::http;

struct RequestReader::Parser {
  http::request_parser<http::string_body> p;
};

RequestReader::RequestReader(size_t max_header_bytes)
    : parser_(new Parser), max_header_bytes_(max_header_bytes) {
  auto& p = parser_->p;
  p.header_limit(static_cast<uint32_t>(std::min<size_t>(
      max_header_bytes, std::numeric_limits<uint32_t>::max())));
  // The body limit depends on the request (StartBody); Beast would compare a
  // Content-Length with it while finishing the header.
  p.body_limit(std::numeric_limits<uint64_t>::max());
  p.eager(false);  // stop after the header
}

RequestReader::~RequestReader() = default;

void RequestReader::Fail(int status, std::string reason) {
  state_ = State::kError;
  error_status_ = status;
  error_reason_ = std::move(reason);
}

size_t RequestReader::Feed(std::string_view data) {
  assert(state_ == State::kNeedMore);
  if (data.empty()) return 0;
  started_ = true;
  auto& p = parser_->p;
  boost::system::error_code ec;
  size_t used = p.put(boost::asio::const_buffer(data.data(), data.size()), ec);
  if (ec == http::error::need_more) ec = {};
  if (ec) {
    if (ec == http::error::header_limit) {
      Fail(431, "request header larger than " +
                    std::to_string(max_header_bytes_) + " bytes");
    } else if (ec == http::error::body_limit) {
      Fail(413, "request body larger than " + std::to_string(body_limit_) +
                    " bytes");
    } else {
      Fail(400, "malformed request: " + ec.message());
    }
    return used;
  }
  if (!header_checked_ && p.is_header_done()) {
    header_checked_ = true;
    CheckHeader();
    if (state_ != State::kError) state_ = State::kHeaderDone;
    return used;
  }
  if (p.is_done()) state_ = State::kComplete;
  return used;
}

namespace {

std::string_view View(boost::beast::string_view s) {
  return {s.data(), s.size()};
}

}  // namespace

void RequestReader::CheckHeader() {
  const auto& m = parser_->p.get();
  request_.version = static_cast<int>(m.version());
  request_.method = std::string(View(m.method_string()));
  request_.target = std::string(View(m.target()));
  // Beast itself refuses versions other than 1.0 and 1.1 ("bad version").
  auto target = ParseTarget(request_.target);
  if (!target.ok()) return Fail(400, target.status().message());
  request_.path = std::move(target->path);
  request_.query = std::move(target->query);

  static constexpr http::field kSingletons[] = {http::field::host,
                                                http::field::content_length,
                                                http::field::transfer_encoding,
                                                http::field::content_type,
                                                http::field::authorization,
                                                http::field::expect};
  for (http::field f : kSingletons) {
    if (m.count(f) > 1) {
      return Fail(
          400, "repeated " + std::string(View(http::to_string(f))) + " header");
    }
  }
  if (request_.version == 11 && m.count(http::field::host) == 0) {
    return Fail(400, "missing Host header");
  }
  auto te = m.find(http::field::transfer_encoding);
  if (te != m.end()) {
    if (request_.version == 10) {
      return Fail(400, "Transfer-Encoding in an HTTP/1.0 request");
    }
    if (!boost::beast::iequals(te->value(), "chunked")) {
      return Fail(501, "unsupported Transfer-Encoding");
    }
  }
  auto expect = m.find(http::field::expect);
  if (expect != m.end() && request_.version == 11) {
    if (!boost::beast::iequals(expect->value(), "100-continue")) {
      return Fail(417, "unsupported Expect");
    }
    expects_continue_ = true;
  }
}

std::optional<uint64_t> RequestReader::content_length() const {
  auto cl = parser_->p.content_length();
  if (!cl) return std::nullopt;
  return *cl;
}

bool RequestReader::keep_alive() const { return parser_->p.get().keep_alive(); }

void RequestReader::StartBody(uint64_t limit) {
  assert(state_ == State::kHeaderDone);
  auto& p = parser_->p;
  auto cl = p.content_length();
  if (cl && *cl > limit) {
    return Fail(413,
                "request body larger than " + std::to_string(limit) + " bytes");
  }
  body_limit_ = limit;
  p.body_limit(limit);
  p.eager(true);
  state_ = p.is_done() ? State::kComplete : State::kNeedMore;
}

bool RequestReader::body_pending() const { return !parser_->p.is_done(); }

Request RequestReader::TakeRequest() {
  assert(state_ == State::kComplete);
  auto& m = parser_->p.get();
  for (const auto& field : m) {
    std::string name(View(field.name_string()));
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    request_.headers.emplace_back(std::move(name),
                                  std::string(View(field.value())));
  }
  request_.body = std::move(m.body());
  return std::move(request_);
}

}  // namespace porthole::httpd
