// The request-target of an HTTP request in origin form (RFC 9112 3.2.1):
// "/path?query", parsed strictly. Pure functions, thread-safe.
//
// Rules (each refusal is kInvalidArgument with the reason shown):
//   - it starts with '/' ("request target must start with '/'");
//   - raw characters are RFC 3986 pchar ('A'-'Z' 'a'-'z' '0'-'9'
//     "-._~!$&'()*+,;=:@" and '%'), '/' and, in the query, '?'; anything
//     else ("invalid character in request target"), including '#', space,
//     '"', '<', '>', '\\', '^', '`', '{', '|', '}' and every byte outside
//     printable ASCII;
//   - '%' is followed by two hex digits ("malformed percent-escape");
//   - the decoded path and every decoded query name and value are UTF-8
//     without NUL or control characters ("invalid byte in request
//     target"); the path has no encoded '/' ("encoded '/' in path") and no
//     "." or ".." segment ("dot segment in path");
//   - the query is name[=value] parameters joined by '&'; a name is not
//     empty ("empty query parameter"); '+' decodes to a space; at most 64
//     parameters ("too many query parameters").
#ifndef PORTHOLE_CORE_HTTPD_TARGET_H_
#define PORTHOLE_CORE_HTTPD_TARGET_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/base/status.h"

namespace porthole::httpd {

struct Target {
  std::string path;                                        // decoded
  std::vector<std::pair<std::string, std::string>> query;  // decoded, in order
};

Result<Target> ParseTarget(std::string_view raw);

}  // namespace porthole::httpd

#endif  // PORTHOLE_CORE_HTTPD_TARGET_H_
