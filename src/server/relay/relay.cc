#include "server/relay/relay.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/base/logging.h"

namespace porthole::server::relay {
namespace {

using Steady = std::chrono::steady_clock;
using ssh::BridgeId;
using ssh::ConnectionId;

bool IsSk(const keys::PublicKey& k) {
  return k.type == keys::KeyType::kSkEd25519 ||
         k.type == keys::KeyType::kSkEcdsaP256;
}

const char* KindName(RelayEvent::Kind kind) {
  switch (kind) {
    case RelayEvent::Kind::kTunnelUp:
      return "tunnel up";
    case RelayEvent::Kind::kTunnelDown:
      return "tunnel down";
    case RelayEvent::Kind::kOperatorConnect:
      return "operator connect";
    case RelayEvent::Kind::kOperatorDisconnect:
      return "operator disconnect";
    case RelayEvent::Kind::kRefused:
      return "refused";
  }
  return "event";
}

}  // namespace

bool NormalizeUuid(std::string_view text, std::string* normal) {
  if (text.size() != 36) return false;
  std::string out(text);
  for (size_t i = 0; i < out.size(); ++i) {
    char& ch = out[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (ch != '-') return false;
      continue;
    }
    if (ch >= 'A' && ch <= 'F') ch = static_cast<char>(ch - 'A' + 'a');
    if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'))) return false;
  }
  *normal = std::move(out);
  return true;
}

// ---------------------------------------------------------------------------

class Relay::Logic : public ssh::ForwardingDelegate {
 public:
  Logic(RelayBackend* backend, const Clock& clock)
      : backend_(backend), clock_(clock) {}
  void set_server(ssh::ForwardingServer* server) { server_ = server; }

  ssh::AuthDecision OnPublicKey(const ssh::ConnectionInfo& c,
                                const std::string& user,
                                const keys::PublicKey& key,
                                bool signature_verified) override;
  void OnAuthenticated(const ssh::ConnectionInfo& c) override;
  Status OnTcpipForward(const ssh::ConnectionInfo& c,
                        const std::string& address, uint32_t port) override;
  Status OnCancelTcpipForward(const ssh::ConnectionInfo& c,
                              const std::string& address,
                              uint32_t port) override;
  Result<ssh::BridgeTarget> OnDirectTcpip(
      const ssh::ConnectionInfo& c, const ssh::DirectTcpipRequest& r) override;
  void OnBridgeOpen(const ssh::BridgeInfo& b) override;
  void OnBridgeClosed(const ssh::BridgeInfo& b,
                      const ssh::BridgeEnd& end) override;
  void OnRequestRefused(const ssh::ConnectionInfo& c,
                        std::string_view what) override;
  void OnConnectionRefused(const std::string& peer_address, uint16_t peer_port,
                           std::string_view reason) override;
  void OnConnectionClosed(const ssh::ConnectionInfo& c, std::string_view reason,
                          std::string_view last_refusal) override;
  void OnWake() override;
  void OnTimer() override;

 private:
  enum class Role { kDevice, kOperator };
  struct ConnState {
    Role role = Role::kOperator;
    std::string device_id;  // kDevice
    keys::PublicKey key;
    std::string fingerprint, user, peer;
    // The device's tunnel (kDevice, after an accepted tcpip-forward).
    bool tunnel = false;
    bool tunnel_reported_down = false;
    std::string session_id;
    uint16_t port = 0;
    SystemTime expires_at;
    Steady::time_point up_since;
  };
  struct BridgeState {
    ConnectionId op = 0, dev = 0;
    std::string session_id, device_id;
    uint16_t port = 0;
    SystemTime expires_at;
    keys::PublicKey key;
    std::string fingerprint, user, peer, target;
  };

  RelayEvent Event(RelayEvent::Kind kind) const {
    RelayEvent e;
    e.kind = kind;
    return e;
  }
  void Report(const RelayEvent& e);
  RelayEvent EventFor(RelayEvent::Kind kind, const ssh::ConnectionInfo& c,
                      std::string reason) const;
  std::vector<LiveSession> LiveSessionsFor(const keys::PublicKey& key);
  void TunnelDown(ConnState& st, const std::string& reason);
  void CutDevice(ConnectionId id, ConnState& st, const std::string& reason);
  void ScheduleExpiry();
  void ConsiderExpiry(SystemTime t);
  void ExpireDue();
  void RevalidateAll();

  RelayBackend* backend_;
  const Clock& clock_;
  ssh::ForwardingServer* server_ = nullptr;
  std::unordered_map<ConnectionId, ConnState> conns_;
  std::unordered_map<std::string, ConnectionId> tunnels_;  // device -> conn
  std::unordered_map<BridgeId, BridgeState> bridges_;
  // sk- keys already refused on a connection (one line and report each).
  std::set<std::pair<ConnectionId, std::string>> sk_refused_;
  // The last key refused at login per connection (fingerprint, device id
  // when the user named one), for the audit event when it closes.
  struct LoginRefusal {
    std::string fingerprint;
    std::string device_id;
  };
  std::map<ConnectionId, LoginRefusal> login_refused_;
  // The expires_at the engine's timer is set for.
  std::optional<SystemTime> next_expiry_;
};

void Relay::Logic::Report(const RelayEvent& e) {
  std::string line = std::string("relay: ") + KindName(e.kind);
  auto add = [&](const char* name, const std::string& v) {
    if (!v.empty()) line += std::string(" ") + name + "=" + v;
  };
  add("session", e.session_id);
  add("device", e.device_id);
  add("key", e.fingerprint);
  add("user", LogSafe(e.user, 64));
  add("peer", e.peer);
  if (e.kind == RelayEvent::Kind::kOperatorDisconnect) {
    line += " to_device=" + std::to_string(e.bytes_to_device) +
            " from_device=" + std::to_string(e.bytes_from_device);
  }
  if (e.kind == RelayEvent::Kind::kOperatorDisconnect ||
      e.kind == RelayEvent::Kind::kTunnelDown) {
    line += " duration_ms=" + std::to_string(e.duration.count());
  }
  if (!e.reason.empty()) line += ": " + e.reason;
  if (e.kind == RelayEvent::Kind::kRefused) {
    spdlog::warn("{}", line);
  } else {
    spdlog::info("{}", line);
  }
  backend_->Report(e);
}

RelayEvent Relay::Logic::EventFor(RelayEvent::Kind kind,
                                  const ssh::ConnectionInfo& c,
                                  std::string reason) const {
  RelayEvent e;
  e.kind = kind;
  e.user = c.user;
  e.peer = c.Peer();
  e.reason = std::move(reason);
  auto it = conns_.find(c.id);
  if (it != conns_.end()) {
    e.fingerprint = it->second.fingerprint;
    e.device_id = it->second.device_id;
    e.session_id = it->second.session_id;
  } else if (c.authenticated) {
    e.fingerprint = c.key.Fingerprint();
  }
  return e;
}

std::vector<LiveSession> Relay::Logic::LiveSessionsFor(
    const keys::PublicKey& key) {
  std::vector<LiveSession> sessions = backend_->LiveSessionsForOperatorKey(key);
  SystemTime now = clock_.Now();
  // The backend's word plus the relay's own clock: an expired session is
  // never used, whatever the backend says.
  sessions.erase(
      std::remove_if(sessions.begin(), sessions.end(),
                     [&](const LiveSession& s) { return s.expires_at <= now; }),
      sessions.end());
  return sessions;
}

ssh::AuthDecision Relay::Logic::OnPublicKey(const ssh::ConnectionInfo& c,
                                            const std::string& user,
                                            const keys::PublicKey& key,
                                            bool signature_verified) {
  std::string fp = key.Fingerprint();
  if (IsSk(key)) {
    std::string reason = "sk- key " + key.ShortTypeName() + " " + fp +
                         " refused: libssh 0.10 cannot check user presence; "
                         "use the session's relay key for the relay hop";
    if (sk_refused_.insert({c.id, fp}).second) {
      RelayEvent e = EventFor(RelayEvent::Kind::kRefused, c, reason);
      e.user = user;
      e.fingerprint = fp;
      Report(e);
    }
    return {false, reason};
  }
  std::string device_id;
  if (NormalizeUuid(user, &device_id)) {
    std::optional<keys::PublicKey> registered = backend_->DeviceKey(device_id);
    if (registered && *registered == key) {
      if (signature_verified) {
        ConnState st;
        st.role = Role::kDevice;
        st.device_id = device_id;
        st.key = key;
        st.fingerprint = fp;
        st.user = user;
        st.peer = c.Peer();
        conns_[c.id] = std::move(st);
      }
      return {true, ""};
    }
  }
  if (!LiveSessionsFor(key).empty()) {
    if (signature_verified) {
      ConnState st;
      st.role = Role::kOperator;
      st.key = key;
      st.fingerprint = fp;
      st.user = user;
      st.peer = c.Peer();
      conns_[c.id] = std::move(st);
    }
    return {true, ""};
  }
  login_refused_[c.id] = {fp, device_id};
  if (!device_id.empty()) {
    return {false, "key " + fp + " is not the registered key of device " +
                       device_id + " and not in any live session"};
  }
  return {false, "key " + fp + " is not in any live session"};
}

void Relay::Logic::OnAuthenticated(const ssh::ConnectionInfo& c) {
  auto it = conns_.find(c.id);
  if (it == conns_.end()) return;
  const ConnState& st = it->second;
  if (st.role == Role::kDevice) {
    spdlog::info("relay: device {} logged in from {} with key {}", st.device_id,
                 st.peer, st.fingerprint);
  } else {
    spdlog::info("relay: operator '{}' logged in from {} with key {}",
                 LogSafe(st.user, 64), st.peer, st.fingerprint);
  }
}

Status Relay::Logic::OnTcpipForward(const ssh::ConnectionInfo& c,
                                    const std::string& address, uint32_t port) {
  auto refuse = [&](std::string why) {
    Report(EventFor(RelayEvent::Kind::kRefused, c, why));
    return Status::PermissionDenied(why);
  };
  std::string asked =
      "tcpip-forward " + LogSafe(address, 64) + ":" + std::to_string(port);
  auto it = conns_.find(c.id);
  if (it == conns_.end() || it->second.role != Role::kDevice) {
    return refuse(asked + " from an operator connection");
  }
  ConnState& st = it->second;
  if (st.tunnel) {
    return refuse(asked + ": this connection already forwards 127.0.0.1:" +
                  std::to_string(st.port));
  }
  std::optional<LiveSession> s = backend_->LiveSessionOfDevice(st.device_id);
  if (!s || s->expires_at <= clock_.Now()) {
    return refuse(asked + ": device " + st.device_id + " has no live session");
  }
  if (address != "127.0.0.1" || port != s->reverse_port) {
    return refuse(asked +
                  ": only 127.0.0.1:" + std::to_string(s->reverse_port) +
                  " (the session's reverse port) may be forwarded");
  }
  auto old = tunnels_.find(st.device_id);
  if (old != tunnels_.end() && old->second != c.id) {
    auto oit = conns_.find(old->second);
    if (oit != conns_.end()) {
      CutDevice(old->second, oit->second,
                "replaced by a new connection of the device");
    }
  }
  st.tunnel = true;
  st.session_id = s->session_id;
  st.port = s->reverse_port;
  st.expires_at = s->expires_at;
  st.up_since = Steady::now();
  tunnels_[st.device_id] = c.id;
  RelayEvent e = EventFor(RelayEvent::Kind::kTunnelUp, c,
                          "forwarding 127.0.0.1:" + std::to_string(st.port));
  Report(e);
  ConsiderExpiry(st.expires_at);
  return Status::Ok();
}

Status Relay::Logic::OnCancelTcpipForward(const ssh::ConnectionInfo& c,
                                          const std::string& address,
                                          uint32_t port) {
  auto it = conns_.find(c.id);
  if (it == conns_.end() || it->second.role != Role::kDevice ||
      !it->second.tunnel || address != "127.0.0.1" || port != it->second.port) {
    return Status::NotFound("no such forward");
  }
  TunnelDown(it->second, "the device cancelled the forward");
  it->second.tunnel = false;
  auto t = tunnels_.find(it->second.device_id);
  if (t != tunnels_.end() && t->second == c.id) tunnels_.erase(t);
  return Status::Ok();
}

Result<ssh::BridgeTarget> Relay::Logic::OnDirectTcpip(
    const ssh::ConnectionInfo& c, const ssh::DirectTcpipRequest& r) {
  std::string asked =
      "direct-tcpip to " + LogSafe(r.host, 100) + ":" + std::to_string(r.port);
  auto refuse = [&](std::string why, const std::string& device = "",
                    const std::string& session = "") {
    RelayEvent e = EventFor(RelayEvent::Kind::kRefused, c, why);
    if (!device.empty()) e.device_id = device;
    if (!session.empty()) e.session_id = session;
    Report(e);
    return Status::PermissionDenied(why);
  };
  auto it = conns_.find(c.id);
  if (it == conns_.end() || it->second.role != Role::kOperator) {
    return refuse(asked + ": a device connection may not open channels");
  }
  const ConnState& op = it->second;
  std::vector<LiveSession> sessions = LiveSessionsFor(op.key);
  const LiveSession* chosen = nullptr;
  std::string device_id;
  if (r.host == "127.0.0.1") {
    for (const LiveSession& s : sessions) {
      if (s.reverse_port == r.port) chosen = &s;
    }
    if (chosen == nullptr) {
      return refuse(asked +
                    ": no live session with this key has reverse "
                    "port " +
                    std::to_string(r.port));
    }
  } else if (r.port == 22) {
    std::optional<std::string> resolved = backend_->ResolveDevice(r.host);
    if (!resolved) return refuse(asked + ": no such device");
    device_id = *resolved;
    for (const LiveSession& s : sessions) {
      if (s.device_id == device_id) chosen = &s;
    }
    if (chosen == nullptr) {
      return refuse(asked + ": no live session of device " + device_id +
                        " lists this key",
                    device_id);
    }
  } else {
    return refuse(asked +
                  ": only 127.0.0.1:PORT of a session or DEVICE:22 "
                  "can be reached");
  }
  auto t = tunnels_.find(chosen->device_id);
  if (t == tunnels_.end()) {
    return refuse(asked + ": device " + chosen->device_id +
                      " is not connected to the relay",
                  chosen->device_id, chosen->session_id);
  }
  auto dit = conns_.find(t->second);
  if (dit == conns_.end() || dit->second.port != chosen->reverse_port) {
    return refuse(asked + ": device " + chosen->device_id +
                      " forwards another port than its session's",
                  chosen->device_id, chosen->session_id);
  }
  BridgeState b;
  b.op = c.id;
  b.dev = t->second;
  b.session_id = chosen->session_id;
  b.device_id = chosen->device_id;
  b.port = chosen->reverse_port;
  b.expires_at = chosen->expires_at;
  b.key = op.key;
  b.fingerprint = op.fingerprint;
  b.user = op.user;
  b.peer = op.peer;
  b.target = LogSafe(r.host, 100) + ":" + std::to_string(r.port);
  ConsiderExpiry(b.expires_at);
  bridges_[r.bridge] = std::move(b);
  ssh::BridgeTarget target;
  target.connection = t->second;
  target.connected_address = "127.0.0.1";
  target.connected_port = chosen->reverse_port;
  target.originator_address = c.peer_address;
  target.originator_port = c.peer_port;
  return target;
}

void Relay::Logic::OnBridgeOpen(const ssh::BridgeInfo& info) {
  auto it = bridges_.find(info.id);
  if (it == bridges_.end()) return;
  const BridgeState& b = it->second;
  RelayEvent e;
  e.kind = RelayEvent::Kind::kOperatorConnect;
  e.session_id = b.session_id;
  e.device_id = b.device_id;
  e.fingerprint = b.fingerprint;
  e.user = b.user;
  e.peer = b.peer;
  e.reason = "to " + b.target;
  Report(e);
}

void Relay::Logic::OnBridgeClosed(const ssh::BridgeInfo& info,
                                  const ssh::BridgeEnd& end) {
  auto it = bridges_.find(info.id);
  if (it == bridges_.end()) return;
  BridgeState b = std::move(it->second);
  bridges_.erase(it);
  RelayEvent e;
  e.session_id = b.session_id;
  e.device_id = b.device_id;
  e.fingerprint = b.fingerprint;
  e.user = b.user;
  e.peer = b.peer;
  if (!end.target_opened) {
    e.kind = RelayEvent::Kind::kRefused;
    e.reason = "channel to " + b.target + ": " + end.reason;
  } else {
    e.kind = RelayEvent::Kind::kOperatorDisconnect;
    e.bytes_to_device = end.bytes_to_target;
    e.bytes_from_device = end.bytes_from_target;
    e.duration = end.duration;
    e.reason = end.reason;
  }
  Report(e);
}

void Relay::Logic::OnRequestRefused(const ssh::ConnectionInfo& c,
                                    std::string_view what) {
  Report(EventFor(RelayEvent::Kind::kRefused, c, std::string(what)));
}

void Relay::Logic::OnConnectionRefused(const std::string& peer_address,
                                       uint16_t peer_port,
                                       std::string_view reason) {
  RelayEvent e;
  e.kind = RelayEvent::Kind::kRefused;
  ssh::ConnectionInfo c;
  c.peer_address = peer_address;
  c.peer_port = peer_port;
  e.peer = c.Peer();
  e.reason = "connection: " + std::string(reason);
  Report(e);
}

void Relay::Logic::TunnelDown(ConnState& st, const std::string& reason) {
  if (!st.tunnel || st.tunnel_reported_down) return;
  st.tunnel_reported_down = true;
  RelayEvent e;
  e.kind = RelayEvent::Kind::kTunnelDown;
  e.session_id = st.session_id;
  e.device_id = st.device_id;
  e.fingerprint = st.fingerprint;
  e.user = st.user;
  e.peer = st.peer;
  e.reason = reason;
  e.duration = std::chrono::duration_cast<std::chrono::milliseconds>(
      Steady::now() - st.up_since);
  Report(e);
}

void Relay::Logic::CutDevice(ConnectionId id, ConnState& st,
                             const std::string& reason) {
  // The operator channels first, with the reason, then the connection.
  for (auto& [bid, b] : bridges_) {
    if (b.dev == id) server_->CloseBridge(bid, reason);
  }
  TunnelDown(st, reason);
  auto t = tunnels_.find(st.device_id);
  if (t != tunnels_.end() && t->second == id) tunnels_.erase(t);
  server_->Disconnect(id, reason);
}

void Relay::Logic::OnConnectionClosed(const ssh::ConnectionInfo& c,
                                      std::string_view reason,
                                      std::string_view last_refusal) {
  auto it = conns_.find(c.id);
  if (it != conns_.end()) {
    ConnState& st = it->second;
    if (st.role == Role::kDevice) {
      TunnelDown(st, std::string(reason));
      auto t = tunnels_.find(st.device_id);
      if (t != tunnels_.end() && t->second == c.id) tunnels_.erase(t);
    }
    conns_.erase(it);
  } else if (!c.authenticated &&
             (!last_refusal.empty() ||
              reason.find("login grace") != std::string_view::npos) &&
             // An sk- refusal was reported when it happened.
             last_refusal.rfind("sk- key ", 0) != 0) {
    std::string why = "login refused";
    if (!last_refusal.empty()) why += ": " + std::string(last_refusal);
    why += " (connection: " + std::string(reason) + ")";
    RelayEvent e = EventFor(RelayEvent::Kind::kRefused, c, why);
    if (auto r = login_refused_.find(c.id); r != login_refused_.end()) {
      if (e.fingerprint.empty()) e.fingerprint = r->second.fingerprint;
      if (e.device_id.empty()) e.device_id = r->second.device_id;
    }
    Report(e);
  }
  login_refused_.erase(c.id);
  for (auto sk = sk_refused_.lower_bound({c.id, ""});
       sk != sk_refused_.end() && sk->first == c.id;) {
    sk = sk_refused_.erase(sk);
  }
}

void Relay::Logic::OnWake() {
  RevalidateAll();
  ScheduleExpiry();
}

void Relay::Logic::OnTimer() {
  ExpireDue();
  ScheduleExpiry();
}

void Relay::Logic::ExpireDue() {
  // Only what is due is looked up again: the session may have been
  // extended since it was last seen.
  SystemTime now = clock_.Now();
  for (auto& [id, st] : conns_) {
    if (!st.tunnel || st.expires_at > now) continue;
    std::optional<LiveSession> s = backend_->LiveSessionOfDevice(st.device_id);
    if (s && s->expires_at > now && s->reverse_port == st.port) {
      st.session_id = s->session_id;
      st.expires_at = s->expires_at;
      continue;
    }
    CutDevice(id, st, "session expired");
  }
  for (auto& entry : bridges_) {
    BridgeState& b = entry.second;
    if (b.expires_at > now) continue;
    std::vector<LiveSession> sessions = LiveSessionsFor(b.key);
    auto s = std::find_if(
        sessions.begin(), sessions.end(), [&](const LiveSession& ls) {
          return ls.device_id == b.device_id && ls.reverse_port == b.port;
        });
    if (s != sessions.end()) {
      b.session_id = s->session_id;
      b.expires_at = s->expires_at;
      continue;
    }
    server_->CloseBridge(entry.first, "session expired");
  }
}

void Relay::Logic::RevalidateAll() {
  SystemTime now = clock_.Now();
  // One backend lookup per key per pass.
  std::map<std::string, std::vector<LiveSession>> by_key;
  auto sessions_for =
      [&](const keys::PublicKey& key) -> const std::vector<LiveSession>& {
    auto it = by_key.find(key.blob);
    if (it == by_key.end()) {
      it = by_key.emplace(key.blob, LiveSessionsFor(key)).first;
    }
    return it->second;
  };

  // Operator channels: a live session of that device and port must still
  // list the key.
  std::map<std::string, std::optional<LiveSession>> by_device;
  auto session_of =
      [&](const std::string& device) -> const std::optional<LiveSession>& {
    auto it = by_device.find(device);
    if (it == by_device.end()) {
      it = by_device.emplace(device, backend_->LiveSessionOfDevice(device))
               .first;
    }
    return it->second;
  };
  for (auto& entry : bridges_) {
    // Not a structured binding: the lambda below captures it.
    BridgeId bid = entry.first;
    BridgeState& b = entry.second;
    const std::vector<LiveSession>& sessions = sessions_for(b.key);
    auto s = std::find_if(
        sessions.begin(), sessions.end(), [&](const LiveSession& ls) {
          return ls.device_id == b.device_id && ls.reverse_port == b.port;
        });
    if (s != sessions.end()) {
      b.session_id = s->session_id;
      b.expires_at = s->expires_at;
      continue;
    }
    const std::optional<LiveSession>& own = session_of(b.device_id);
    std::string why;
    if (b.expires_at <= now || (own && own->expires_at <= now)) {
      why = "session expired";
    } else if (!own || own->reverse_port != b.port) {
      why = "session closed";
    } else {
      why = "the key was removed from the session";
    }
    server_->CloseBridge(bid, why);
  }

  std::vector<std::pair<ConnectionId, std::string>> cuts;
  for (auto& [id, st] : conns_) {
    if (st.role == Role::kOperator) {
      if (sessions_for(st.key).empty()) {
        cuts.push_back({id, "no live session lists this key any more"});
      }
      continue;
    }
    std::optional<keys::PublicKey> registered =
        backend_->DeviceKey(st.device_id);
    if (!registered) {
      cuts.push_back({id, "device removed"});
      continue;
    }
    if (!(*registered == st.key)) {
      cuts.push_back({id, "the device's registered key changed"});
      continue;
    }
    if (!st.tunnel) continue;
    const std::optional<LiveSession>& s = session_of(st.device_id);
    if (!s) {
      cuts.push_back(
          {id, st.expires_at <= now ? "session expired" : "session closed"});
    } else if (s->expires_at <= now) {
      cuts.push_back({id, "session expired"});
    } else if (s->reverse_port != st.port) {
      cuts.push_back({id, "session changed (reverse port now " +
                              std::to_string(s->reverse_port) + ")"});
    } else {
      st.session_id = s->session_id;
      st.expires_at = s->expires_at;
    }
  }
  for (auto& [id, why] : cuts) {
    auto it = conns_.find(id);
    if (it == conns_.end()) continue;
    if (it->second.role == Role::kDevice) {
      CutDevice(id, it->second, why);
    } else {
      server_->Disconnect(id, why);
    }
  }
}

void Relay::Logic::ScheduleExpiry() {
  // A full pass: after a timer or a revalidation only.
  next_expiry_.reset();
  server_->WakeAt(std::nullopt);
  for (const auto& [id, st] : conns_) {
    if (st.tunnel && !st.tunnel_reported_down) ConsiderExpiry(st.expires_at);
  }
  for (const auto& [id, b] : bridges_) ConsiderExpiry(b.expires_at);
}

void Relay::Logic::ConsiderExpiry(SystemTime t) {
  if (next_expiry_ && *next_expiry_ <= t) return;
  next_expiry_ = t;
  auto left = t - clock_.Now();
  server_->WakeAt(Steady::now() + std::chrono::duration_cast<Steady::duration>(
                                      std::max(left, decltype(left)::zero())));
}

// ---------------------------------------------------------------------------

Result<std::unique_ptr<Relay>> Relay::Create(RelayOptions options,
                                             RelayBackend* backend,
                                             const Clock& clock) {
  if (backend == nullptr) return Status::InvalidArgument("relay: no backend");
  if (options.host_key == nullptr) {
    return Status::InvalidArgument("relay: no host key");
  }
  UniqueFd fd = std::move(options.listen_fd);
  if (!fd.valid()) {
    Result<UniqueFd> listening =
        ssh::ListenTcp(options.listen_address, options.port);
    if (!listening.ok()) return listening.status().Prefixed("relay");
    fd = std::move(*listening);
  }
  std::unique_ptr<Relay> relay(new Relay());
  relay->port_ = ssh::LocalPort(fd.get());
  relay->logic_ = std::make_unique<Logic>(backend, clock);
  ssh::ForwardingServer::Options so;
  so.host_key = options.host_key;
  so.listen_fd = std::move(fd);
  so.login_grace = options.login_grace;
  so.idle_timeout = options.idle_timeout;
  so.keepalive_interval = options.keepalive_interval;
  so.keepalive_count_max = options.keepalive_count_max;
  so.max_connections = options.max_connections;
  so.max_per_source = options.max_per_source;
  so.max_unauthenticated = options.max_unauthenticated;
  so.max_channels_per_connection = options.max_channels_per_connection;
  so.buffer_per_direction = options.buffer_per_direction;
  Result<std::unique_ptr<ssh::ForwardingServer>> server =
      ssh::ForwardingServer::Create(std::move(so), relay->logic_.get());
  if (!server.ok()) return server.status().Prefixed("relay");
  relay->server_ = std::move(*server);
  relay->logic_->set_server(relay->server_.get());
  return relay;
}

Relay::~Relay() {
  // The server calls into the logic while it shuts down.
  server_.reset();
  logic_.reset();
}

Status Relay::Run() {
  spdlog::info("relay: listening on port {}", port_);
  Status s = server_->Run();
  spdlog::info("relay: stopped");
  return s;
}

void Relay::Stop() { server_->Stop(); }
void Relay::Revalidate() { server_->Wake(); }
ssh::ServerStats Relay::stats() const { return server_->stats(); }

}  // namespace porthole::server::relay
