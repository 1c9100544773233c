#include "server/daemon/store_relay_backend.h"

#include <spdlog/spdlog.h>

namespace porthole::server::daemon {
namespace {

void AddKeys(const std::vector<std::string>& lines,
             std::vector<keys::PublicKey>* out) {
  for (const std::string& line : lines) {
    Result<keys::PublicKey> key = keys::ParsePublicKeyLine(line);
    if (key.ok()) out->push_back(std::move(*key));
  }
}

}  // namespace

relay::LiveSession StoreRelayBackend::ToLive(const Session& s) {
  relay::LiveSession live;
  live.session_id = s.id;
  live.device_id = s.device_id;
  Result<Device> d = ctx_->store->FindDevice(s.device_id);
  live.device_name = d.ok() ? d->name : "";
  live.reverse_port = s.reverse_port;
  AddKeys(s.operator_keys, &live.operator_keys);
  AddKeys(s.relay_keys, &live.operator_keys);
  live.expires_at = s.expires_at;
  return live;
}

std::optional<keys::PublicKey> StoreRelayBackend::DeviceKey(
    const std::string& device_id) {
  Result<Device> d = ctx_->store->FindDevice(device_id);
  if (!d.ok() || d->removed() || d->id != device_id) return std::nullopt;
  Result<keys::PublicKey> key = keys::ParsePublicKeyLine(d->ssh_key);
  if (!key.ok()) return std::nullopt;
  return std::move(*key);
}

std::optional<relay::LiveSession> StoreRelayBackend::LiveSessionOfDevice(
    const std::string& device_id) {
  Result<std::optional<Session>> s =
      ctx_->store->LiveSessionOfDevice(device_id, ctx_->clock->Now());
  if (!s.ok()) {
    spdlog::error("relay backend: {}", s.status().message());
    return std::nullopt;
  }
  if (!*s) return std::nullopt;
  return ToLive(**s);
}

std::vector<relay::LiveSession> StoreRelayBackend::LiveSessionsForOperatorKey(
    const keys::PublicKey& key) {
  std::vector<relay::LiveSession> out;
  Result<std::vector<Session>> sessions =
      ctx_->store->LiveSessionsWithKey(key.BlobSha256Hex(), ctx_->clock->Now());
  if (!sessions.ok()) {
    spdlog::error("relay backend: {}", sessions.status().message());
    return out;
  }
  for (const Session& s : *sessions) out.push_back(ToLive(s));
  return out;
}

std::optional<std::string> StoreRelayBackend::ResolveDevice(
    const std::string& name_or_id) {
  Result<Device> d = ctx_->store->FindDevice(name_or_id);
  if (!d.ok() || d->removed()) return std::nullopt;
  return d->id;
}

void StoreRelayBackend::Report(const relay::RelayEvent& e) {
  using Kind = relay::RelayEvent::Kind;
  api::Json details{{"peer", e.peer}};
  if (!e.user.empty()) details["user"] = e.user;
  if (!e.reason.empty()) details["reason"] = e.reason;
  if (!e.fingerprint.empty()) details["fingerprint"] = e.fingerprint;
  std::string kind;
  switch (e.kind) {
    case Kind::kTunnelUp:
      kind = "tunnel.up";
      break;
    case Kind::kTunnelDown:
      kind = "tunnel.down";
      details["duration_ms"] = e.duration.count();
      break;
    case Kind::kOperatorConnect:
      kind = "operator.connect";
      break;
    case Kind::kOperatorDisconnect:
      kind = "operator.disconnect";
      details["bytes_to_device"] = e.bytes_to_device;
      details["bytes_from_device"] = e.bytes_from_device;
      details["duration_ms"] = e.duration.count();
      break;
    case Kind::kRefused:
      kind = "relay.refused";
      break;
  }
  std::string actor = e.kind == Kind::kTunnelUp || e.kind == Kind::kTunnelDown
                          ? "device"
                          : e.fingerprint;
  ctx_->Audit(kind, e.device_id, e.session_id, actor, details);
  if ((e.kind == Kind::kTunnelUp || e.kind == Kind::kTunnelDown) &&
      !e.session_id.empty()) {
    Status s = ctx_->store->SetTunnelUp(e.session_id, e.kind == Kind::kTunnelUp,
                                        ctx_->clock->Now());
    if (!s.ok()) spdlog::error("relay backend: {}", s.message());
    ctx_->hub->Notify(api::SessionTopic(e.session_id));
  }
}

}  // namespace porthole::server::daemon
