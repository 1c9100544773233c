// What `porthole-server device add` hands to a device: the files of its
// bundle directory and the agent.toml (RAC's client.toml format,
// core/config/agent_config.h) that points the agent at this server.
//
//   client.pem   the device certificate (from the device CA)
//   pkey.pem     its private key, 0600 (absent when the device sent a CSR)
//   root.crt     the server CA: the only anchor the agent trusts
//   agent.toml   torizon.url https://HOST:PORT/ras/, director_url
//                https://HOST:PORT/director/, the three files under
//                DEVICE_DIR, device key /var/lib/porthole/device-key,
//                TUF repo /var/lib/porthole/tuf, commands
//                /var/lib/porthole/commands, spawned_sshd with config_dir
//                /run/porthole.
//
// Plain functions of their arguments; any thread.
#ifndef PORTHOLE_SERVER_DEVICE_BUNDLE_H_
#define PORTHOLE_SERVER_DEVICE_BUNDLE_H_

#include <string>

#include "core/base/status.h"
#include "core/config/agent_config.h"
#include "server/config.h"

namespace porthole::server {

inline constexpr char kDefaultDeviceDir[] = "/etc/porthole";

// "https://HOST:PORT/" for the device API (IPv6 literals bracketed).
std::string DeviceApiBase(const ServerConfig& config);

// The agent's configuration for a device whose bundle files will live in
// `device_dir` (absolute; kInvalidArgument otherwise, or if it holds
// characters no path should).
Result<config::AgentConfig> MakeAgentConfig(const ServerConfig& config,
                                            const std::string& device_dir);

// FormatAgentConfig(..., kPlain) with a header comment naming the device.
std::string AgentTomlText(const config::AgentConfig& agent,
                          const std::string& device_name,
                          const std::string& device_id);

}  // namespace porthole::server

#endif  // PORTHOLE_SERVER_DEVICE_BUNDLE_H_
