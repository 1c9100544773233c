#include "server/device_bundle.h"

#include "core/config/toml.h"
#include "core/crypto/x509.h"

namespace porthole::server {

std::string DeviceApiBase(const ServerConfig& config) {
  std::string host = config.hostname;
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return "https://" + host + ":" + std::to_string(config.device_api.port) + "/";
}

Result<config::AgentConfig> MakeAgentConfig(const ServerConfig& config,
                                            const std::string& device_dir) {
  if (device_dir.empty() || device_dir[0] != '/') {
    return Status::InvalidArgument("--device-dir '" +
                                   config::PrintableText(device_dir) +
                                   "' is not an absolute path");
  }
  for (char c : device_dir) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return Status::InvalidArgument("--device-dir '" +
                                     config::PrintableText(device_dir) +
                                     "' holds a control character");
    }
  }
  std::string dir = device_dir;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  if (dir == "/") dir.clear();

  std::string base = DeviceApiBase(config);
  PH_ASSIGN_OR_RETURN(config::Url url, config::ParseHttpUrl(base + "ras/"));
  PH_ASSIGN_OR_RETURN(config::Url director,
                      config::ParseHttpUrl(base + "director/"));
  config::AgentConfig a;
  a.torizon.url = url;
  a.torizon.director_url = director;
  a.torizon.client_cert_path = dir + "/client.pem";
  a.torizon.client_key_path = dir + "/pkey.pem";
  a.torizon.server_cert_path = dir + "/root.crt";
  a.device.ssh_private_key_path = "/var/lib/porthole/device-key";
  a.device.local_tuf_repo_path = "/var/lib/porthole/tuf";
  a.device.commands_dir = "/var/lib/porthole/commands";
  config::SpawnedSshdSession session;
  session.config_dir = "/run/porthole";
  a.device.session = session;
  return a;
}

std::string AgentTomlText(const config::AgentConfig& agent,
                          const std::string& device_name,
                          const std::string& device_id) {
  return "# porthole-agent configuration for device " + device_name + " (" +
         device_id +
         "),\n# written by `porthole-server device add` (RAC's client.toml "
         "format).\n" +
         config::FormatAgentConfig(agent, config::ConfigStyle::kPlain);
}

}  // namespace porthole::server
