#include "agent/reload.h"

#include <utility>

namespace porthole::agent {

ReloadDecision DecideReload(const config::AgentConfig& running,
                            Result<config::AgentConfig> loaded,
                            const Status& tls, bool root) {
  ReloadDecision d;
  constexpr char kKeeping[] = "; keeping the running configuration";
  if (!loaded.ok()) {
    d.message = "reload: " + loaded.status().message() + kKeeping;
    return d;
  }
  const std::string& file = loaded->file;
  std::vector<std::string> changed = config::ChangedSettings(running, *loaded);
  if (changed.empty()) {
    d.kind = ReloadDecision::Kind::kUnchanged;
    d.message = "reload: " + file + ": no setting changed";
    return d;
  }
  if (!tls.ok()) {
    if (root) {
      d.message = "reload: " + tls.message() + kKeeping;
      return d;
    }
    d.notes.push_back("reload: cannot read the TLS material now (" +
                      tls.message() +
                      "): privileges were dropped at start; keeping the "
                      "certificate and key read then");
  }
  if (!root && loaded->device.unprivileged_user_group !=
                   running.device.unprivileged_user_group) {
    d.notes.push_back(
        "reload: device.unprivileged_user_group changed, but privileges "
        "were dropped at start: it applies at the next start");
  }
  std::string keys;
  for (const std::string& k : changed) keys += (keys.empty() ? "" : ", ") + k;
  d.kind = ReloadDecision::Kind::kRestart;
  d.message = "reload: " + file + ": " + keys +
              " changed; ending the session and restarting with the new "
              "configuration";
  d.next = std::move(loaded).value();
  return d;
}

}  // namespace porthole::agent
