// What the API handlers share: the store, the director, the change hub,
// timers, the relay's public address, limits and counters. Built once by
// the server (run.cc); every member outlives the handlers.
#ifndef PORTHOLE_SERVER_API_CONTEXT_H_
#define PORTHOLE_SERVER_API_CONTEXT_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "core/base/clock.h"
#include "server/api/change_hub.h"
#include "server/api/http.h"
#include "server/api/json_util.h"
#include "server/director/director.h"
#include "server/store/store.h"

namespace porthole::server::api {

// Where devices reach the relay (ra_server_url) and the key it presents.
struct RelayInfo {
  std::string host;  // as devices dial it; an IPv6 literal without brackets
  uint16_t port = 2222;
  std::string host_key;  // OpenSSH public key line
};

struct ApiSettings {
  int max_long_poll = 55;  // seconds
  std::chrono::seconds default_ttl{3600};
  std::chrono::seconds max_ttl{24 * 3600};
  uint16_t port_min = 40000;
  uint16_t port_max = 49999;
};

// Counters for /metrics; relaxed atomics.
struct Metrics {
  std::atomic<uint64_t> polls_sessions{0};
  std::atomic<uint64_t> polls_commands{0};
  std::atomic<uint64_t> director_fetches{0};
  std::atomic<uint64_t> key_registrations{0};
  std::atomic<uint64_t> results_received{0};
  std::atomic<uint64_t> device_refused{0};  // unknown or removed certificate
  std::atomic<uint64_t> operator_unauthorized{0};
  std::atomic<uint64_t> sessions_opened{0};
  std::atomic<uint64_t> commands_created{0};
};

// Last-seen times, batched: the poll path only touches memory; the server
// flushes every few seconds.
class SeenTracker {
 public:
  void Seen(const std::string& device_id, SystemTime at);
  std::vector<std::pair<std::string, SystemTime>> Take();

 private:
  std::mutex mu_;
  std::map<std::string, SystemTime> seen_;
};

struct Context {
  Store* store = nullptr;
  director::Director* director = nullptr;
  ChangeHub* hub = nullptr;
  Scheduler* scheduler = nullptr;
  const Clock* clock = nullptr;
  RelayInfo relay;
  ApiSettings settings;
  Metrics* metrics = nullptr;
  SeenTracker* seen = nullptr;
  // Called after any change to sessions or device keys (the relay
  // re-checks its connections).
  std::function<void()> sessions_changed;

  // Records an audit event in the store and logs it (one line).
  void Audit(const std::string& kind, const std::string& device_id,
             const std::string& session_id, const std::string& actor,
             const Json& details) const;
};

}  // namespace porthole::server::api

#endif  // PORTHOLE_SERVER_API_CONTEXT_H_
