// Internal: the factories behind MakeLocalSession(), one per mode file.
#ifndef PORTHOLE_AGENT_MODES_H_
#define PORTHOLE_AGENT_MODES_H_

#include <memory>

#include "agent/local_session.h"

namespace porthole::agent {

std::unique_ptr<LocalSession> MakeSpawnedSshdSession(
    const config::AgentConfig& config);
std::unique_ptr<LocalSession> MakeEmbeddedSession(
    const config::AgentConfig& config);
std::unique_ptr<LocalSession> MakeTargetHostSession(
    const config::AgentConfig& config);

}  // namespace porthole::agent

#endif  // PORTHOLE_AGENT_MODES_H_
