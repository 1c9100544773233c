#include "cli/session_flow.h"

#include <thread>

#include "cli/duration_arg.h"
#include "cli/table.h"
#include "core/tuf/rfc3339.h"

namespace porthole::cli {
namespace {

// The longest single long poll (the API allows 1..55 s).
constexpr std::chrono::seconds kMaxPoll{25};

std::string ShortName(const Session& s) {
  return Printable(s.device_name.empty() ? s.device : s.device_name);
}

Status CheckReusable(const Session& s, const SessionNeeds& needs) {
  for (const auto& k : needs.keys) {
    if (!ContainsKey(s.operator_keys, k.key)) {
      return Status::FailedPrecondition(
          ShortName(s) + " already has a live session " + Printable(s.id) +
          (s.opened_by.empty() ? "" : " opened by " + Printable(s.opened_by)) +
          " that does not list your key " + k.key.Fingerprint() +
          " (one live session per device): porthole session close " +
          Printable(s.id) + " first");
    }
  }
  return Status::Ok();
}

Result<SystemTime> ExpiresOf(const Session& s) {
  auto t = tuf::ParseRfc3339(s.expires_at.value_or(""));
  if (!t.ok()) {
    return Status::Corrupt("session " + Printable(s.id) +
                           ": no valid expires_at from the server");
  }
  return *t;
}

// This machine's relay key for a reused session, added to it if needed.
Status EnsureRelayKey(OperatorApi& api, const RelayKeyStore& store,
                      ReadySession* ready) {
  Session& s = ready->session;
  PH_ASSIGN_OR_RETURN(auto found, store.Find(s.id));
  if (found && ContainsKey(s.relay_keys, found->key)) {
    ready->relay_key = std::move(found);
    return Status::Ok();
  }
  PH_ASSIGN_OR_RETURN(SystemTime expires, ExpiresOf(s));
  PH_ASSIGN_OR_RETURN(RelayKeyStore::Entry entry, store.Create(s.id, expires));
  auto r = api.Post("/api/v1/sessions/" + UrlEncodePath(s.id) + "/relay-keys",
                    Json{{"key", entry.public_line}});
  if (!r.ok()) {
    (void)store.Remove(s.id);
    return r.status();
  }
  auto updated = ParseSession(r->body);
  if (!updated.ok()) {
    (void)store.Remove(s.id);
    return updated.status();
  }
  s = std::move(*updated);
  ready->relay_key = std::move(entry);
  return Status::Ok();
}

Result<ReadySession> Reuse(OperatorApi& api, const SessionNeeds& needs,
                           Device device, Session session) {
  PH_RETURN_IF_ERROR(CheckReusable(session, needs));
  ReadySession ready{std::move(device), std::move(session), false, {}};
  if (needs.store != nullptr) {
    PH_RETURN_IF_ERROR(EnsureRelayKey(api, *needs.store, &ready));
  }
  return ready;
}

}  // namespace

Result<ReadySession> OpenOrReuseSession(OperatorApi& api,
                                        const SessionNeeds& needs) {
  if (needs.keys.empty()) return Status::Internal("no operator key");
  PH_ASSIGN_OR_RETURN(Device device, api.GetDevice(needs.device));
  if (device.removed_at) {
    return Status::FailedPrecondition("device " + Printable(device.name) +
                                      " was removed on " +
                                      Printable(*device.removed_at));
  }
  if (device.session) {
    auto live = api.GetSession(*device.session);
    if (live.ok() && live->live()) {
      return Reuse(api, needs, std::move(device), std::move(*live));
    }
    if (!live.ok() && live.status().code() != StatusCode::kNotFound) {
      return live.status();
    }
    // That session has ended: its relay key is of no use any more.
    if (needs.store != nullptr) (void)needs.store->Remove(*device.session);
  }

  std::optional<RelayKeyStore::Entry> pending;
  if (needs.store != nullptr) {
    PH_ASSIGN_OR_RETURN(pending, needs.store->CreatePending());
  }
  auto drop_pending = [&] {
    if (pending) (void)needs.store->RemoveDir(pending->dir);
  };
  Json body{{"device", device.id}};
  Json keys = Json::array();
  for (const auto& k : needs.keys) keys.push_back(k.line);
  body["keys"] = std::move(keys);
  if (needs.ttl) body["ttl"] = needs.ttl->count();
  if (pending) body["relay_keys"] = Json::array({pending->public_line});
  auto r = api.Call("POST", "/api/v1/sessions", body);
  if (!r.ok()) {
    drop_pending();
    return r.status();
  }
  if (r->status == 409 && r->error && r->error->code == "session_exists") {
    drop_pending();
    Json other_json;
    if (r->body.is_object() && r->body.contains("session")) {
      other_json = r->body["session"];
    }
    auto other = ParseSession(other_json);
    if (!other.ok()) return other.status().Prefixed("409 session_exists");
    return Reuse(api, needs, std::move(device), std::move(*other));
  }
  if (r->status < 200 || r->status > 299) {
    drop_pending();
    return OperatorApi::ErrorStatus(*r);
  }
  auto session = ParseSession(r->body);
  if (!session.ok()) {
    drop_pending();
    return session.status();
  }
  ReadySession ready{std::move(device), std::move(*session), true, {}};
  if (pending) {
    auto expires = ExpiresOf(ready.session);
    if (!expires.ok()) {
      drop_pending();
      return expires.status();
    }
    auto adopted = needs.store->Adopt(*pending, ready.session.id, *expires);
    if (!adopted.ok()) {
      drop_pending();
      return adopted.status();
    }
    ready.relay_key = std::move(*adopted);
  }
  return ready;
}

Result<Session> WaitForTunnel(OperatorApi& api, const Session& session,
                              std::chrono::seconds max_wait,
                              const std::function<void()>& on_wait,
                              const Clock& clock) {
  using std::chrono::duration_cast;
  using std::chrono::seconds;
  if (session.tunnel_up && session.live()) return session;
  const SystemTime deadline = clock.Now() + max_wait;
  if (on_wait) on_wait();
  Session s = session;
  std::string seen;
  for (;;) {
    if (!s.live()) {
      return Status::FailedPrecondition(
          "session " + Printable(s.id) + " on " + ShortName(s) + " is " +
          Printable(s.state) +
          (s.end_reason.empty() ? "" : " (" + Printable(s.end_reason) + ")"));
    }
    if (s.tunnel_up) return s;
    auto left = duration_cast<seconds>(deadline - clock.Now());
    if (left.count() < 1) {
      return Status::Unavailable(
          ShortName(s) + " did not connect within " +
          FormatDurationArg(max_wait) + "; session " + Printable(s.id) +
          " stays open" +
          (s.expires_at ? " until " + Printable(*s.expires_at) : "") +
          " (the device takes it at its next poll; porthole session close " +
          Printable(s.id) + " to drop it)");
    }
    auto wait = std::min(left, kMaxPoll);
    auto started = std::chrono::steady_clock::now();
    std::string etag;
    PH_ASSIGN_OR_RETURN(s, api.WaitSession(s.id, seen, wait, &etag));
    // A server or proxy that answers at once with nothing new must not make
    // this a busy loop.
    if ((etag.empty() || etag == seen) &&
        std::chrono::steady_clock::now() - started < wait / 2) {
      std::this_thread::sleep_for(std::chrono::seconds(1));
    }
    seen = etag;
  }
}

}  // namespace porthole::cli
