// Internal: the factories behind MakeLocalSession(), one per mode file.
#ifndef PORTHOLE_AGENT_MODES_H_
#define PORTHOLE_AGENT_MODES_H_

#include <memory>
#include <string>

#include "agent/local_session.h"
#include "core/keys/public_key.h"

namespace porthole::agent {

// "TYPE BASE64 porthole-agent" for LocalSession::HostKeys().
std::string HostKeyLine(const keys::PublicKey& key);

std::unique_ptr<LocalSession> MakeSpawnedSshdSession(
    const config::AgentConfig& config);
std::unique_ptr<LocalSession> MakeEmbeddedSession(
    const config::AgentConfig& config);
std::unique_ptr<LocalSession> MakeTargetHostSession(
    const config::AgentConfig& config);

}  // namespace porthole::agent

#endif  // PORTHOLE_AGENT_MODES_H_
