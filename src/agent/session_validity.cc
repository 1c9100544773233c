#include "agent/session_validity.h"

#include <algorithm>

#include "core/config/agent_config.h"

namespace porthole::agent {
namespace {

bool IsLoginName(std::string_view s) {
  if (s.empty() || s.size() > 64 || s[0] == '-') return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
  });
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

Result<std::vector<keys::PublicKey>> ParseKeys(
    const std::vector<std::string>& lines) {
  std::vector<keys::PublicKey> out;
  for (size_t i = 0; i < lines.size(); ++i) {
    auto key = keys::ParsePublicKeyLine(lines[i]);
    if (!key.ok()) {
      return Status::InvalidArgument("authorized_pubkeys[" +
                                     std::to_string(i) +
                                     "]: " + key.status().message());
    }
    if (std::find(out.begin(), out.end(), *key) == out.end()) {
      out.push_back(std::move(key).value());
    }
  }
  return out;
}

bool SameKeySet(const std::vector<keys::PublicKey>& a,
                const std::vector<keys::PublicKey>& b) {
  // Both are duplicate-free (ParseKeys).
  if (a.size() != b.size()) return false;
  return std::all_of(a.begin(), a.end(), [&](const keys::PublicKey& k) {
    return std::find(b.begin(), b.end(), k) != b.end();
  });
}

}  // namespace

Result<SessionPlan> PlanSession(const tuf::DeviceSession& session) {
  SessionPlan plan;
  auto url = tuf::ParseRaServerUrl(session.ra_server_url);
  if (!url.ok()) {
    return Status::InvalidArgument("ra_server_url: " + url.status().message());
  }
  if (auto uuid = config::ParseUuid(url->user); uuid.ok()) {
    plan.relay_user = *uuid;
  } else if (IsLoginName(url->user)) {
    plan.relay_user = url->user;
  } else {
    return Status::InvalidArgument(
        "ra_server_url: the user must be the device UUID or a login name, "
        "not '" + url->user + "'");
  }
  plan.relay_host = url->host;
  if (plan.relay_host.size() > 2 && plan.relay_host.front() == '[') {
    plan.relay_host = plan.relay_host.substr(1, plan.relay_host.size() - 2);
  }
  plan.relay_port = url->port;
  PH_ASSIGN_OR_RETURN(plan.operator_keys,
                      ParseKeys(session.authorized_pubkeys));
  auto relay_key = keys::ParsePublicKeyLine(session.ra_server_ssh_pubkey);
  if (!relay_key.ok()) {
    return Status::InvalidArgument("ra_server_ssh_pubkey: " +
                                   relay_key.status().message());
  }
  plan.relay_key = std::move(relay_key).value();
  plan.session = session;
  return plan;
}

std::string_view ChangeName(Change change) {
  switch (change) {
    case Change::kNone:
      return "unchanged";
    case Change::kKeysChanged:
      return "keys changed";
    case Change::kReversePortChanged:
      return "reverse port changed";
    case Change::kUrlChanged:
      return "relay URL changed";
    case Change::kRelayKeyChanged:
      return "relay host key changed";
  }
  return "?";
}

Change CompareSession(const SessionPlan& active,
                      const tuf::DeviceSession& fresh) {
  auto keys = ParseKeys(fresh.authorized_pubkeys);
  if (!keys.ok() || !SameKeySet(active.operator_keys, *keys)) {
    return Change::kKeysChanged;
  }
  if (fresh.reverse_port != active.session.reverse_port) {
    return Change::kReversePortChanged;
  }
  auto url = tuf::ParseRaServerUrl(fresh.ra_server_url);
  auto old_url = tuf::ParseRaServerUrl(active.session.ra_server_url);
  if (!url.ok() || !old_url.ok() || url->port != old_url->port ||
      Lower(url->user) != Lower(old_url->user) ||
      Lower(url->host) != Lower(old_url->host)) {
    return Change::kUrlChanged;
  }
  auto relay_key = keys::ParsePublicKeyLine(fresh.ra_server_ssh_pubkey);
  if (!relay_key.ok() || !(*relay_key == active.relay_key)) {
    return Change::kRelayKeyChanged;
  }
  return Change::kNone;
}

}  // namespace porthole::agent
