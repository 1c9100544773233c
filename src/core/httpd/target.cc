#include "core/httpd/target.h"

#include <array>

#include "core/base/utf8.h"

namespace porthole::httpd {
namespace {

constexpr size_t kMaxQueryParameters = 64;

// RFC 3986 pchar minus pct-encoded, plus '/'.
constexpr std::array<bool, 256> kPathChars = [] {
  std::array<bool, 256> t{};
  for (int c = 'a'; c <= 'z'; ++c) t[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = true;
  for (int c = '0'; c <= '9'; ++c) t[c] = true;
  for (char c : std::string_view("-._~!$&'()*+,;=:@/")) {
    t[static_cast<unsigned char>(c)] = true;
  }
  return t;
}();

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Status Invalid(std::string_view why) {
  return Status::InvalidArgument(std::string(why));
}

// Decodes %XX (and '+' when `plus_is_space`); the raw characters were
// checked by the caller. The result must be UTF-8 without controls.
Result<std::string> Decode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%') {
      if (s.size() - i < 3) return Invalid("malformed percent-escape");
      int hi = HexValue(s[i + 1]), lo = HexValue(s[i + 2]);
      if (hi < 0 || lo < 0) return Invalid("malformed percent-escape");
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  for (unsigned char c : out) {
    if (c < 0x20 || c == 0x7f) return Invalid("invalid byte in request target");
  }
  if (!IsValidUtf8(out)) return Invalid("invalid byte in request target");
  return out;
}

Status CheckRaw(std::string_view s, bool query) {
  for (unsigned char c : s) {
    if (kPathChars[c] || c == '%' || (query && c == '?')) continue;
    return Invalid("invalid character in request target");
  }
  return Status::Ok();
}

Result<std::string> DecodePath(std::string_view raw) {
  PH_RETURN_IF_ERROR(CheckRaw(raw, false));
  // An encoded '/' would change how the decoded path splits into segments.
  for (size_t i = 0; i + 2 < raw.size(); ++i) {
    if (raw[i] == '%' && raw[i + 1] == '2' && (raw[i + 2] | 0x20) == 'f') {
      return Invalid("encoded '/' in path");
    }
  }
  PH_ASSIGN_OR_RETURN(std::string path, Decode(raw, false));
  size_t start = 1;  // after the leading '/'
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    std::string_view seg = std::string_view(path).substr(start, end - start);
    if (seg == "." || seg == "..") return Invalid("dot segment in path");
    start = end + 1;
  }
  return path;
}

}  // namespace

Result<Target> ParseTarget(std::string_view raw) {
  if (raw.empty() || raw[0] != '/') {
    return Invalid("request target must start with '/'");
  }
  size_t q = raw.find('?');
  Target t;
  PH_ASSIGN_OR_RETURN(t.path, DecodePath(raw.substr(0, q)));
  if (q == std::string_view::npos) return t;
  std::string_view query = raw.substr(q + 1);
  PH_RETURN_IF_ERROR(CheckRaw(query, true));
  if (query.empty()) return t;
  size_t start = 0;
  while (start <= query.size()) {
    size_t end = query.find('&', start);
    if (end == std::string_view::npos) end = query.size();
    std::string_view param = query.substr(start, end - start);
    size_t eq = param.find('=');
    std::string_view name = param.substr(0, eq);
    std::string_view value = eq == std::string_view::npos
                                 ? std::string_view()
                                 : param.substr(eq + 1);
    if (name.empty()) return Invalid("empty query parameter");
    if (t.query.size() == kMaxQueryParameters) {
      return Invalid("too many query parameters");
    }
    PH_ASSIGN_OR_RETURN(std::string n, Decode(name, true));
    PH_ASSIGN_OR_RETURN(std::string v, Decode(value, true));
    t.query.emplace_back(std::move(n), std::move(v));
    start = end + 1;
  }
  return t;
}

}  // namespace porthole::httpd
