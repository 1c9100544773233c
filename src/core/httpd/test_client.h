// TestClient: a blocking TLS (or plain TCP) client with timeouts on every
// step, for the server tests that need to misbehave on purpose: send bytes
// one at a time, send junk, stop reading, vanish mid-request. Test-only.
#ifndef PORTHOLE_CORE_HTTPD_TEST_CLIENT_H_
#define PORTHOLE_CORE_HTTPD_TEST_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "core/base/status.h"

namespace porthole::httpd {

struct ParsedResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

class TestClient {
 public:
  using ms = std::chrono::milliseconds;

  // Trusts `ca_file`; presents `cert_file` + `key_file` when not empty.
  TestClient(const std::string& ca_file, const std::string& cert_file,
             const std::string& key_file);
  ~TestClient();

  Status Connect(uint16_t port, ms timeout = ms(5000));
  // TLS handshake; an error names what failed.
  Status Handshake(ms timeout = ms(5000));
  Status Send(std::string_view data, ms timeout = ms(5000));
  // Bytes straight onto the TCP connection (no TLS).
  Status SendPlain(std::string_view data, ms timeout = ms(5000));
  // One response (status line, headers, Content-Length body).
  Result<ParsedResponse> ReadResponse(ms timeout = ms(5000));
  // True if the server closes the connection (EOF, reset or a TLS error)
  // within `timeout`; data arriving meanwhile is dropped. With `plain`,
  // reads the TCP connection directly.
  bool WaitClosed(ms timeout = ms(5000), bool plain = false);
  // True if the socket becomes readable within `timeout`.
  bool WaitReadable(ms timeout);
  void Close();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace porthole::httpd

#endif  // PORTHOLE_CORE_HTTPD_TEST_CLIENT_H_
