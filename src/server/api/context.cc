#include "server/api/context.h"

#include <spdlog/spdlog.h>

namespace porthole::server::api {

void SeenTracker::Seen(const std::string& device_id, SystemTime at) {
  std::lock_guard<std::mutex> lock(mu_);
  seen_[device_id] = at;
}

std::vector<std::pair<std::string, SystemTime>> SeenTracker::Take() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::pair<std::string, SystemTime>> out(seen_.begin(),
                                                      seen_.end());
  seen_.clear();
  return out;
}

void Context::Audit(const std::string& kind, const std::string& device_id,
                    const std::string& session_id, const std::string& actor,
                    const Json& details) const {
  AuditEvent event;
  event.at = clock->Now();
  event.kind = kind;
  event.device_id = device_id;
  event.session_id = session_id;
  event.actor = actor;
  tuf::ErrorOr<std::string> text = tuf::DumpJson(details);
  event.details_json = text.ok() ? *text : "{}";
  spdlog::info("audit: {} device={} session={} actor={} {}", kind,
               device_id.empty() ? "-" : device_id,
               session_id.empty() ? "-" : session_id,
               actor.empty() ? "-" : actor, event.details_json);
  Result<int64_t> seq = store->AppendAudit(event);
  if (!seq.ok()) {
    spdlog::error("audit: cannot record {}: {}", kind, seq.status().message());
  }
}

}  // namespace porthole::server::api
