#include "core/httpd/test_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <cctype>
#include <optional>

namespace porthole::httpd {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

struct TestClient::Impl {
  asio::io_context ioc;
  ssl::context ctx{ssl::context::tls_client};
  std::optional<ssl::stream<tcp::socket>> stream;
  std::string buffer;  // received, not yet returned

  tcp::socket& socket() { return stream->next_layer(); }

  // Runs the io_context until `done` or `timeout`; on timeout cancels the
  // socket's operations and says so.
  error_code Run(bool& done, error_code& ec, ms timeout) {
    ioc.restart();
    ioc.run_for(timeout);
    if (!done) {
      error_code ignored;
      socket().cancel(ignored);
      ioc.restart();
      ioc.run();
      return asio::error::timed_out;
    }
    return ec;
  }

  // Reads some TLS (or plain) bytes into `buffer`.
  error_code ReadSome(bool plain, ms timeout) {
    char chunk[16384];
    bool done = false;
    error_code ec;
    size_t n = 0;
    auto h = [&](const error_code& e, size_t len) {
      done = true;
      ec = e;
      n = len;
    };
    if (plain) {
      socket().async_read_some(asio::buffer(chunk), h);
    } else {
      stream->async_read_some(asio::buffer(chunk), h);
    }
    error_code r = Run(done, ec, timeout);
    buffer.append(chunk, n);
    return r;
  }
};

TestClient::TestClient(const std::string& ca_file, const std::string& cert_file,
                       const std::string& key_file)
    : impl_(new Impl) {
  impl_->ctx.load_verify_file(ca_file);
  impl_->ctx.set_verify_mode(ssl::verify_peer);
  if (!cert_file.empty()) {
    impl_->ctx.use_certificate_chain_file(cert_file);
    impl_->ctx.use_private_key_file(key_file, ssl::context::pem);
  }
  impl_->stream.emplace(impl_->ioc, impl_->ctx);
}

TestClient::~TestClient() = default;

Status TestClient::Connect(uint16_t port, ms timeout) {
  bool done = false;
  error_code ec;
  tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), port);
  impl_->socket().async_connect(ep, [&](const error_code& e) {
    done = true;
    ec = e;
  });
  error_code r = impl_->Run(done, ec, timeout);
  if (r) return Status::Unavailable("connect: " + r.message());
  return Status::Ok();
}

Status TestClient::Handshake(ms timeout) {
  bool done = false;
  error_code ec;
  impl_->stream->async_handshake(ssl::stream_base::client,
                                 [&](const error_code& e) {
                                   done = true;
                                   ec = e;
                                 });
  error_code r = impl_->Run(done, ec, timeout);
  if (r) return Status::Unavailable("handshake: " + r.message());
  return Status::Ok();
}

Status TestClient::Send(std::string_view data, ms timeout) {
  bool done = false;
  error_code ec;
  asio::async_write(*impl_->stream, asio::buffer(data.data(), data.size()),
                    [&](const error_code& e, size_t) {
                      done = true;
                      ec = e;
                    });
  error_code r = impl_->Run(done, ec, timeout);
  if (r) return Status::Unavailable("send: " + r.message());
  return Status::Ok();
}

Status TestClient::SendPlain(std::string_view data, ms timeout) {
  bool done = false;
  error_code ec;
  asio::async_write(impl_->socket(), asio::buffer(data.data(), data.size()),
                    [&](const error_code& e, size_t) {
                      done = true;
                      ec = e;
                    });
  error_code r = impl_->Run(done, ec, timeout);
  if (r) return Status::Unavailable("send: " + r.message());
  return Status::Ok();
}

Result<ParsedResponse> TestClient::ReadResponse(ms timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string& b = impl_->buffer;
  for (;;) {
    size_t end = b.find("\r\n\r\n");
    if (end != std::string::npos) {
      ParsedResponse r;
      std::string head = b.substr(0, end);
      size_t line_end = head.find("\r\n");
      std::string status_line = head.substr(0, line_end);
      if (status_line.rfind("HTTP/1.1 ", 0) != 0 || status_line.size() < 12) {
        return Status::Corrupt("bad status line: " + status_line);
      }
      r.status = std::stoi(status_line.substr(9, 3));
      size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
      while (pos < head.size()) {
        size_t next = head.find("\r\n", pos);
        if (next == std::string::npos) next = head.size();
        std::string line = head.substr(pos, next - pos);
        size_t colon = line.find(':');
        std::string name = line.substr(0, colon);
        for (char& c : name) c = static_cast<char>(std::tolower(c));
        std::string value =
            colon == std::string::npos ? "" : line.substr(colon + 1);
        value.erase(0, value.find_first_not_of(' '));
        r.headers[name] = value;
        pos = next + 2;
      }
      size_t length = 0;
      if (r.headers.count("content-length")) {
        length = std::stoul(r.headers["content-length"]);
      }
      if (r.status == 100) {  // interim: skip it
        b.erase(0, end + 4);
        continue;
      }
      if (b.size() >= end + 4 + length) {
        r.body = b.substr(end + 4, length);
        b.erase(0, end + 4 + length);
        return r;
      }
    }
    auto left = std::chrono::duration_cast<ms>(
        deadline - std::chrono::steady_clock::now());
    if (left <= ms(0)) return Status::Unavailable("read: timed out");
    error_code ec = impl_->ReadSome(false, left);
    if (ec) return Status::Unavailable("read: " + ec.message());
  }
}

bool TestClient::WaitClosed(ms timeout, bool plain) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<ms>(
        deadline - std::chrono::steady_clock::now());
    if (left <= ms(0)) return false;
    error_code ec = impl_->ReadSome(plain, left);
    impl_->buffer.clear();
    if (ec == asio::error::timed_out) return false;
    if (ec) return true;
  }
}

bool TestClient::WaitReadable(ms timeout) {
  bool done = false;
  error_code ec;
  impl_->socket().async_wait(tcp::socket::wait_read, [&](const error_code& e) {
    done = true;
    ec = e;
  });
  return !impl_->Run(done, ec, timeout);
}

void TestClient::Close() {
  error_code ignored;
  impl_->socket().close(ignored);
}

}  // namespace porthole::httpd
