// The bytes httpd writes: status lines, the headers the server owns, and
// its own error responses. Pure functions, thread-safe.
#ifndef PORTHOLE_CORE_HTTPD_WIRE_H_
#define PORTHOLE_CORE_HTTPD_WIRE_H_

#include <chrono>
#include <string>
#include <string_view>

#include "core/httpd/httpd.h"

namespace porthole::httpd {

// "OK", "Not Found", ...; empty for a code without a registered phrase
// (the status line then ends in "NNN ", which RFC 9112 allows).
std::string_view ReasonPhrase(int status);

// Why a handler's response cannot be sent as it is (see Response in
// httpd.h), or empty when it can.
std::string CheckResponse(const Response& response);

// The whole response: "HTTP/1.1 NNN Reason", the handler's headers, Date,
// Content-Length (not for 1xx, 204, 304), "Connection: close" when `close`
// or "Connection: keep-alive" for an HTTP/1.0 client that keeps it, a
// blank line and the body (none when `head`). `response` must have passed
// CheckResponse().
std::string SerializeResponse(const Response& response, int request_version,
                              bool head, bool close);

// The server's own answer to a refused request: JSON
// {"code":"<snake_case>","description":"<description>"}, the code chosen by
// the status ("bad_request", "payload_too_large", ...).
Response ErrorResponse(int status, std::string_view description);

// IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT".
std::string HttpDate(std::chrono::system_clock::time_point t);

}  // namespace porthole::httpd

#endif  // PORTHOLE_CORE_HTTPD_WIRE_H_
