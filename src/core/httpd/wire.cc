#include "core/httpd/wire.h"

#include <cctype>
#include <cstdio>
#include <ctime>

namespace porthole::httpd {
namespace {

bool IsTokenChar(unsigned char c) {
  if (std::isalnum(c)) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

bool HasNoBody(int status) {
  return status < 200 || status == 204 || status == 304;
}

std::string_view ErrorCode(int status) {
  switch (status) {
    case 400:
      return "bad_request";
    case 408:
      return "request_timeout";
    case 413:
      return "payload_too_large";
    case 417:
      return "expectation_failed";
    case 431:
      return "request_header_fields_too_large";
    case 501:
      return "not_implemented";
    case 505:
      return "http_version_not_supported";
    default:
      return status >= 500 ? "internal_error" : "bad_request";
  }
}

void AppendJsonString(std::string* out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(static_cast<char>(c));
    } else if (c < 0x20) {
      out->append("\\u00");
      out->push_back(kHex[c >> 4]);
      out->push_back(kHex[c & 15]);
    } else {
      out->push_back(static_cast<char>(c));
    }
  }
  out->push_back('"');
}

}  // namespace

const std::string* Request::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k == name) return &v;
  }
  return nullptr;
}

const std::string* Request::Query(std::string_view name) const {
  for (const auto& [k, v] : query) {
    if (k == name) return &v;
  }
  return nullptr;
}

Response Response::Json(int status, std::string body) {
  Response r;
  r.status = status;
  r.headers.emplace_back("Content-Type", "application/json");
  r.body = std::move(body);
  return r;
}

std::string_view ReasonPhrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 411:
      return "Length Required";
    case 412:
      return "Precondition Failed";
    case 413:
      return "Content Too Large";
    case 415:
      return "Unsupported Media Type";
    case 417:
      return "Expectation Failed";
    case 422:
      return "Unprocessable Content";
    case 424:
      return "Failed Dependency";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "";
  }
}

std::string CheckResponse(const Response& response) {
  if (response.status < 200 || response.status > 599) {
    return "status " + std::to_string(response.status) + " out of range";
  }
  if (HasNoBody(response.status) && !response.body.empty()) {
    return "a body with status " + std::to_string(response.status);
  }
  static constexpr std::string_view kOwned[] = {
      "content-length", "transfer-encoding", "connection",
      "date",           "keep-alive",        "upgrade"};
  for (const auto& [name, value] : response.headers) {
    if (name.empty()) return "an empty header name";
    for (unsigned char c : name) {
      if (!IsTokenChar(c)) return "header name '" + name + "' is not a token";
    }
    for (std::string_view owned : kOwned) {
      if (IEquals(name, owned)) {
        return "header " + name + " is set by the server";
      }
    }
    for (unsigned char c : value) {
      if (c == '\r' || c == '\n' || c == '\0') {
        return "header " + name + " has CR, LF or NUL in its value";
      }
    }
  }
  return "";
}

std::string SerializeResponse(const Response& response, int request_version,
                              bool head, bool close) {
  std::string out;
  out.reserve(128 + response.headers.size() * 48 +
              (head ? 0 : response.body.size()));
  out.append("HTTP/1.1 ");
  out.append(std::to_string(response.status));
  out.push_back(' ');
  out.append(ReasonPhrase(response.status));
  out.append("\r\n");
  for (const auto& [name, value] : response.headers) {
    out.append(name);
    out.append(": ");
    out.append(value);
    out.append("\r\n");
  }
  out.append("Date: ");
  out.append(HttpDate(std::chrono::system_clock::now()));
  out.append("\r\n");
  if (!HasNoBody(response.status)) {
    out.append("Content-Length: ");
    out.append(std::to_string(response.body.size()));
    out.append("\r\n");
  }
  if (close) {
    out.append("Connection: close\r\n");
  } else if (request_version == 10) {
    out.append("Connection: keep-alive\r\n");
  }
  out.append("\r\n");
  if (!head) out.append(response.body);
  return out;
}

Response ErrorResponse(int status, std::string_view description) {
  std::string body = "{\"code\":";
  AppendJsonString(&body, ErrorCode(status));
  body.append(",\"description\":");
  AppendJsonString(&body, description);
  body.push_back('}');
  return Response::Json(status, std::move(body));
}

std::string HttpDate(std::chrono::system_clock::time_point t) {
  // One formatting per second per thread is plenty.
  thread_local time_t cached_secs = -1;
  thread_local char cached[32];
  time_t secs = std::chrono::system_clock::to_time_t(t);
  if (secs != cached_secs) {
    struct tm tm;
    gmtime_r(&secs, &tm);
    // Not strftime: %a and %b follow the locale.
    static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed",
                                            "Thu", "Fri", "Sat"};
    static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr",
                                              "May", "Jun", "Jul", "Aug",
                                              "Sep", "Oct", "Nov", "Dec"};
    snprintf(cached, sizeof(cached), "%s, %02d %s %04d %02d:%02d:%02d GMT",
             kDays[tm.tm_wday], tm.tm_mday, kMonths[tm.tm_mon],
             tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    cached_secs = secs;
  }
  return cached;
}

}  // namespace porthole::httpd
