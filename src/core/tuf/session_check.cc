#include "core/tuf/session_check.h"

#include <algorithm>
#include <cctype>

#include "core/keys/public_key.h"
#include "core/tuf/json.h"
#include "core/tuf/rfc3339.h"

namespace porthole::tuf {
namespace {

constexpr char kWhere[] = "session ssh";

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

std::string_view StripBrackets(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    return host.substr(1, host.size() - 2);
  }
  return host;
}

bool SameHost(std::string_view a, std::string_view b) {
  return Lower(StripBrackets(a)) == Lower(StripBrackets(b));
}

std::string Describe(const keys::PublicKey& key) {
  return key.TypeName() + " " + key.Fingerprint();
}

}  // namespace

ErrorOr<DeviceSession> ParseDeviceSession(std::string_view text) {
  TUF_ASSIGN_OR_RETURN(Json json, ParseJson(text));
  if (!json.is_object()) {
    return Error(ErrorCode::kMalformed, "session: not a JSON object");
  }
  TUF_ASSIGN_OR_RETURN(const Json* ssh, RequireObject(json, "ssh", "session"));
  DeviceSession s;
  TUF_ASSIGN_OR_RETURN(s.authorized_pubkeys,
                       RequireStringArray(*ssh, "authorized_pubkeys", kWhere));
  TUF_ASSIGN_OR_RETURN(uint64_t port,
                       RequireUint(*ssh, "reverse_port", 0, kWhere));
  if (port > 65535) {
    return Error(ErrorCode::kMalformed,
                 std::string(kWhere) + ": reverse_port out of range");
  }
  s.reverse_port = static_cast<uint16_t>(port);
  TUF_ASSIGN_OR_RETURN(s.ra_server_url,
                       RequireString(*ssh, "ra_server_url", kWhere));
  TUF_ASSIGN_OR_RETURN(s.ra_server_ssh_pubkey,
                       RequireString(*ssh, "ra_server_ssh_pubkey", kWhere));
  TUF_ASSIGN_OR_RETURN(s.expires_at_text,
                       RequireString(*ssh, "expires_at", kWhere));
  Result<SystemTime> expires = ParseRfc3339(s.expires_at_text);
  if (!expires.ok()) {
    return Error(ErrorCode::kMalformed, std::string(kWhere) + ": expires_at: " +
                                            expires.status().message());
  }
  s.expires_at = *expires;
  return s;
}

Result<RelayAddress> ParseRaServerUrl(std::string_view url) {
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("ra_server_url '" + Excerpt(url) +
                                   "': " + why);
  };
  constexpr std::string_view kScheme = "ssh://";
  if (url.size() < kScheme.size() ||
      Lower(url.substr(0, kScheme.size())) != kScheme) {
    return bad("scheme is not ssh://");
  }
  std::string_view rest = url.substr(kScheme.size());
  size_t end = rest.find_first_of("/?#");
  if (end != std::string_view::npos) {
    if (rest.substr(end) != "/") return bad("unexpected path or query");
    rest = rest.substr(0, end);
  }
  RelayAddress out;
  if (size_t at = rest.rfind('@'); at != std::string_view::npos) {
    out.user = std::string(rest.substr(0, at));
    rest = rest.substr(at + 1);
  }
  std::string_view host;
  std::string_view port;
  if (!rest.empty() && rest.front() == '[') {
    size_t close = rest.find(']');
    if (close == std::string_view::npos) return bad("unclosed '['");
    host = rest.substr(0, close + 1);
    std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad("junk after IPv6 literal");
      port = after.substr(1);
      if (port.empty()) return bad("empty port");
    }
    if (host.size() == 2) return bad("empty IPv6 literal");
  } else {
    size_t colon = rest.find(':');
    host = rest.substr(0, colon);
    if (colon != std::string_view::npos) {
      port = rest.substr(colon + 1);
      if (port.empty()) return bad("empty port");
    }
  }
  if (host.empty()) return bad("no host");
  for (char c : host) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) return bad("bad character in host");
  }
  out.host = std::string(host);
  if (!port.empty()) {
    if (port.size() > 5 || !std::all_of(port.begin(), port.end(), [](char c) {
          return c >= '0' && c <= '9';
        })) {
      return bad("bad port");
    }
    int p = std::stoi(std::string(port));
    if (p < 1 || p > 65535) return bad("port out of range");
    out.port = static_cast<uint16_t>(p);
  }
  return out;
}

std::vector<std::string> CheckSession(const SshPolicy& policy,
                                      const DeviceSession& session) {
  std::vector<std::string> reasons;

  for (size_t i = 0; i < session.authorized_pubkeys.size(); ++i) {
    const std::string& line = session.authorized_pubkeys[i];
    Result<keys::PublicKey> key = keys::ParsePublicKeyLine(line);
    if (!key.ok()) {
      reasons.push_back("client key " + std::to_string(i) +
                        " does not parse: " + key.status().message());
      continue;
    }
    bool allowed = std::any_of(
        policy.authorized_keys.begin(), policy.authorized_keys.end(),
        [&](const SshPolicy::AuthorizedKey& a) { return a.key == *key; });
    if (!allowed) {
      reasons.push_back("metadata does not allow client key " + Describe(*key));
    }
  }

  Result<RelayAddress> relay = ParseRaServerUrl(session.ra_server_url);
  if (!relay.ok()) {
    reasons.push_back(relay.status().message());
  } else if (std::none_of(policy.ra_server_hosts.begin(),
                          policy.ra_server_hosts.end(),
                          [&](const std::string& h) {
                            return SameHost(h, relay->host);
                          })) {
    reasons.push_back("metadata does not allow relay host '" +
                      Excerpt(relay->host) + "'");
  }

  Result<keys::PublicKey> server =
      keys::ParsePublicKeyLine(session.ra_server_ssh_pubkey);
  if (!server.ok()) {
    reasons.push_back("ra_server_ssh_pubkey does not parse: " +
                      server.status().message());
  } else if (std::none_of(policy.ra_server_ssh_pubkeys.begin(),
                          policy.ra_server_ssh_pubkeys.end(),
                          [&](const SshPolicy::ServerKey& k) {
                            return k.key == *server;
                          })) {
    reasons.push_back("metadata does not allow server key " +
                      Describe(*server));
  }
  return reasons;
}

}  // namespace porthole::tuf
