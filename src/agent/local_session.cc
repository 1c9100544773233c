#include "agent/local_session.h"

#include "agent/modes.h"
#include "core/base/file.h"
#include "core/crypto/digest.h"

namespace porthole::agent {

std::unique_ptr<LocalSession> MakeLocalSession(
    const config::AgentConfig& config) {
  const config::SessionMode& mode = config.device.session;
  if (std::holds_alternative<config::SpawnedSshdSession>(mode)) {
    return MakeSpawnedSshdSession(config);
  }
  if (std::holds_alternative<config::EmbeddedSession>(mode)) {
    return MakeEmbeddedSession(config);
  }
  return MakeTargetHostSession(config);
}

std::string HostKeyLine(const keys::PublicKey& key) {
  return key.TypeName() + " " + crypto::Base64Encode(key.blob) +
         " porthole-agent";
}

std::string DefaultEmbeddedHostKeyPath(const config::AgentConfig& config) {
  return DirName(config.Absolute(config.device.ssh_private_key_path)) +
         "/embedded_host_key_ed25519";
}

}  // namespace porthole::agent
