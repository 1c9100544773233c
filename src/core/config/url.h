// Url: an absolute URI (RFC 3986) and relative resolution against it.
//
// RAC builds every endpoint by resolving a relative reference against a
// configured base (Rust's Url::join, RFC 3986 section 5.2), so the trailing
// '/' of a base matters: "https://h/ras/" + "sessions" is
// "https://h/ras/sessions", but "https://h/ras" + "sessions" is
// "https://h/sessions". Resolve() has exactly those semantics.
//
// Parsing is strict: only the characters RFC 3986 allows (unreserved,
// reserved, and '%' with two hex digits); no spaces, controls or non-ASCII.
// The scheme and host are lower-cased and dot segments of the path removed;
// nothing else is rewritten. Values are plain data.
#ifndef PORTHOLE_CORE_CONFIG_URL_H_
#define PORTHOLE_CORE_CONFIG_URL_H_

#include <optional>
#include <string>
#include <string_view>

#include "core/base/status.h"

namespace porthole::config {

class Url {
 public:
  // Any absolute URI ("scheme:..."). Errors (kInvalidArgument) quote the
  // text and say what is wrong: "'x y': a URL cannot contain ' '".
  static Result<Url> Parse(std::string_view text);

  // RFC 3986 section 5.2.2 (strict): the target of `reference` with this
  // URL as the base. `reference` is split per RFC 3986 appendix B and used
  // as it is (the caller validates what it puts in it).
  Url Resolve(std::string_view reference) const;

  // RFC 3986 section 5.3 recomposition.
  std::string ToString() const;

  const std::string& scheme() const { return scheme_; }
  bool has_authority() const { return authority_.has_value(); }
  // userinfo@host:port, or "" without an authority.
  std::string authority() const { return authority_.value_or(""); }
  // The host as written, with brackets for an IPv6 literal.
  const std::string& host() const { return host_; }
  // The port text after ':' ("" when absent).
  const std::string& port() const { return port_; }
  const std::string& path() const { return path_; }
  const std::optional<std::string>& query() const { return query_; }
  const std::optional<std::string>& fragment() const { return fragment_; }

  // The same URL with another path (and no query or fragment).
  Url WithPath(std::string path) const;

  friend bool operator==(const Url&, const Url&) = default;

 private:
  std::string scheme_;
  std::optional<std::string> authority_;
  std::string host_;
  std::string port_;
  std::string path_;
  std::optional<std::string> query_;
  std::optional<std::string> fragment_;
};

// A URL a device may be told to use: Parse() plus scheme "https" or "http",
// a non-empty host, a port (if any) in 1..65535 and no user information
// (credentials do not belong in a config file). The error quotes the text.
Result<Url> ParseHttpUrl(std::string_view text);

}  // namespace porthole::config

#endif  // PORTHOLE_CORE_CONFIG_URL_H_
