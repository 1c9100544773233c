#include "core/config/url.h"

#include <arpa/inet.h>

#include <cstdio>

#include "core/base/ascii.h"
#include "core/config/toml.h"

namespace porthole::config {
namespace {

using ascii::IsAlpha;
using ascii::IsDigit;
using ascii::IsHexDigit;

bool IsUnreserved(char c) {
  return IsAlpha(c) || IsDigit(c) || c == '-' || c == '.' || c == '_' ||
         c == '~';
}
bool IsSubDelim(char c) {
  return std::string_view("!$&'()*+,;=").find(c) != std::string_view::npos;
}
bool IsGenDelim(char c) {
  return std::string_view(":/?#[]@").find(c) != std::string_view::npos;
}

std::string Lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

std::string Quote(std::string_view text) {
  return "'" + PrintableText(text) + "'";
}

std::string Describe(char c) {
  unsigned char u = static_cast<unsigned char>(c);
  if (u < 0x20 || u >= 0x7f) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "\\x%02x", u);
    return buf;
  }
  return std::string("'") + c + "'";
}

bool IsSchemeText(std::string_view s) {
  if (s.empty() || !IsAlpha(s[0])) return false;
  for (char c : s) {
    if (!IsAlpha(c) && !IsDigit(c) && c != '+' && c != '-' && c != '.') {
      return false;
    }
  }
  return true;
}

// The five components of RFC 3986 appendix B; never fails.
struct Parts {
  std::optional<std::string> scheme;
  std::optional<std::string> authority;
  std::string path;
  std::optional<std::string> query;
  std::optional<std::string> fragment;
};

Parts Split(std::string_view s) {
  Parts p;
  size_t colon = s.find_first_of(":/?#");
  if (colon != std::string_view::npos && s[colon] == ':' &&
      IsSchemeText(s.substr(0, colon))) {
    p.scheme = std::string(s.substr(0, colon));
    s.remove_prefix(colon + 1);
  }
  if (s.starts_with("//")) {
    s.remove_prefix(2);
    size_t end = s.find_first_of("/?#");
    p.authority = std::string(s.substr(0, end));
    s.remove_prefix(end == std::string_view::npos ? s.size() : end);
  }
  size_t end = s.find_first_of("?#");
  p.path = std::string(s.substr(0, end));
  s.remove_prefix(end == std::string_view::npos ? s.size() : end);
  if (s.starts_with("?")) {
    end = s.find('#');
    p.query = std::string(s.substr(
        1, end == std::string_view::npos ? std::string_view::npos : end - 1));
    s.remove_prefix(end == std::string_view::npos ? s.size() : end);
  }
  if (s.starts_with("#")) p.fragment = std::string(s.substr(1));
  return p;
}

// Splits "userinfo@host:port" into host and port (no validation).
void SplitAuthority(std::string_view auth, std::string* host,
                    std::string* port) {
  size_t at = auth.rfind('@');
  if (at != std::string_view::npos) auth.remove_prefix(at + 1);
  size_t colon = std::string_view::npos;
  if (auth.starts_with("[")) {
    size_t close = auth.find(']');
    if (close != std::string_view::npos && close + 1 < auth.size() &&
        auth[close + 1] == ':') {
      colon = close + 1;
    }
  } else {
    colon = auth.rfind(':');
  }
  *host = std::string(auth.substr(0, colon));
  *port = colon == std::string_view::npos ? ""
                                          : std::string(auth.substr(colon + 1));
}

// RFC 3986 section 5.2.4.
std::string RemoveDotSegments(std::string_view in) {
  std::string out;
  while (!in.empty()) {
    if (in.starts_with("../")) {
      in.remove_prefix(3);
    } else if (in.starts_with("./")) {
      in.remove_prefix(2);
    } else if (in.starts_with("/./")) {
      in.remove_prefix(2);
    } else if (in == "/.") {
      in = "/";
    } else if (in.starts_with("/../") || in == "/..") {
      if (in == "/..") {
        in = "/";
      } else {
        in.remove_prefix(3);
      }
      size_t last = out.rfind('/');
      out.erase(last == std::string::npos ? 0 : last);
    } else if (in == "." || in == "..") {
      in = {};
    } else {
      size_t next = in.find('/', in.starts_with("/") ? 1 : 0);
      if (next == std::string_view::npos) next = in.size();
      out.append(in.substr(0, next));
      in.remove_prefix(next);
    }
  }
  return out;
}

// Every character is one RFC 3986 allows somewhere, and '%' is followed by
// two hex digits.
Status CheckCharacters(std::string_view text) {
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size() || !IsHexDigit(text[i + 1]) ||
          !IsHexDigit(text[i + 2])) {
        return Status::InvalidArgument(
            Quote(text) + ": '%' must be followed by two hex digits");
      }
      i += 2;
      continue;
    }
    if (!IsUnreserved(c) && !IsSubDelim(c) && !IsGenDelim(c)) {
      return Status::InvalidArgument(Quote(text) + ": a URL cannot contain " +
                                     Describe(c));
    }
  }
  return Status::Ok();
}

Status CheckHost(std::string_view text, std::string_view host) {
  if (host.starts_with("[")) {
    if (!host.ends_with("]")) {
      return Status::InvalidArgument(Quote(text) +
                                     ": an IPv6 host needs a closing ']'");
    }
    std::string addr(host.substr(1, host.size() - 2));
    unsigned char buf[16];
    if (inet_pton(AF_INET6, addr.c_str(), buf) != 1) {
      return Status::InvalidArgument(Quote(text) + ": '" + addr +
                                     "' is not an IPv6 address");
    }
    return Status::Ok();
  }
  for (char c : host) {
    if (!IsUnreserved(c) && !IsSubDelim(c) && c != '%') {
      return Status::InvalidArgument(Quote(text) + ": a host cannot contain " +
                                     Describe(c));
    }
  }
  return Status::Ok();
}

}  // namespace

Result<Url> Url::Parse(std::string_view text) {
  PH_RETURN_IF_ERROR(CheckCharacters(text));
  Parts p = Split(text);
  if (!p.scheme) {
    return Status::InvalidArgument(Quote(text) +
                                   " is not an absolute URL (no scheme)");
  }
  for (const std::string* part : {&p.path, p.query ? &*p.query : nullptr,
                                  p.fragment ? &*p.fragment : nullptr}) {
    if (part != nullptr && part->find_first_of("[]") != std::string::npos) {
      return Status::InvalidArgument(
          Quote(text) + ": '[' and ']' are only allowed around an IPv6 host");
    }
  }
  Url u;
  u.scheme_ = Lower(*p.scheme);
  if (p.authority) {
    std::string host, port;
    SplitAuthority(*p.authority, &host, &port);
    PH_RETURN_IF_ERROR(CheckHost(text, host));
    for (char c : port) {
      if (!IsDigit(c)) {
        return Status::InvalidArgument(Quote(text) + ": invalid port '" + port +
                                       "'");
      }
    }
    std::string userinfo;
    size_t at = p.authority->rfind('@');
    if (at != std::string::npos) userinfo = p.authority->substr(0, at + 1);
    u.host_ = Lower(host);
    u.port_ = port;
    u.authority_ =
        userinfo + u.host_ +
        (p.authority->ends_with(":") || !port.empty() ? ":" + port : "");
    u.path_ = RemoveDotSegments(p.path);
  } else {
    u.path_ = p.path;
  }
  u.query_ = p.query;
  u.fragment_ = p.fragment;
  return u;
}

Url Url::Resolve(std::string_view reference) const {
  Parts r = Split(reference);
  Url t;
  if (r.scheme) {
    t.scheme_ = *r.scheme;
    t.authority_ = r.authority;
    t.path_ = RemoveDotSegments(r.path);
    t.query_ = r.query;
  } else {
    if (r.authority) {
      t.authority_ = r.authority;
      t.path_ = RemoveDotSegments(r.path);
      t.query_ = r.query;
    } else {
      if (r.path.empty()) {
        t.path_ = path_;
        t.query_ = r.query ? r.query : query_;
      } else {
        if (r.path.starts_with("/")) {
          t.path_ = RemoveDotSegments(r.path);
        } else {
          std::string merged;
          if (authority_ && path_.empty()) {
            merged = "/" + r.path;
          } else {
            size_t slash = path_.rfind('/');
            merged = (slash == std::string::npos ? std::string()
                                                 : path_.substr(0, slash + 1)) +
                     r.path;
          }
          t.path_ = RemoveDotSegments(merged);
        }
        t.query_ = r.query;
      }
      t.authority_ = authority_;
    }
    t.scheme_ = scheme_;
  }
  t.fragment_ = r.fragment;
  if (t.authority_) {
    if (t.authority_ == authority_) {
      t.host_ = host_;
      t.port_ = port_;
    } else {
      SplitAuthority(*t.authority_, &t.host_, &t.port_);
    }
  }
  return t;
}

std::string Url::ToString() const {
  std::string out = scheme_ + ":";
  if (authority_) out += "//" + *authority_;
  out += path_;
  if (query_) out += "?" + *query_;
  if (fragment_) out += "#" + *fragment_;
  return out;
}

Url Url::WithPath(std::string path) const {
  Url u = *this;
  u.path_ = std::move(path);
  u.query_.reset();
  u.fragment_.reset();
  return u;
}

Result<Url> ParseHttpUrl(std::string_view text) {
  PH_ASSIGN_OR_RETURN(Url u, Url::Parse(text));
  if (u.scheme() != "https" && u.scheme() != "http") {
    return Status::InvalidArgument(Quote(text) +
                                   ": the scheme must be https or http, not '" +
                                   u.scheme() + "'");
  }
  if (!u.has_authority() || u.host().empty()) {
    return Status::InvalidArgument(Quote(text) + " has no host");
  }
  if (u.authority().find('@') != std::string::npos) {
    return Status::InvalidArgument(
        Quote(text) +
        ": user information (name@, name:password@) does not "
        "belong in a URL here");
  }
  if (!u.port().empty()) {
    unsigned long port = 0;
    if (u.port().size() <= 5) {
      for (char c : u.port()) port = port * 10 + static_cast<unsigned>(c - '0');
    }
    if (port == 0 || port > 65535) {
      return Status::InvalidArgument(Quote(text) +
                                     ": the port must be 1 to "
                                     "65535, not '" +
                                     u.port() + "'");
    }
  }
  return u;
}

}  // namespace porthole::config
