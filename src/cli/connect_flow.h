// From "I want a shell on dev-7" to the ssh options that get there: the
// operator's login, the key, a live session with the device's tunnel up,
// the relay key and both known_hosts files. `porthole connect`,
// `porthole ssh-proxy` and `porthole keys ... porthole:DEVICE` call it,
// then run ssh their own way.
//
// Progress goes to stderr, one line each ("porthole: waiting for dev-7 to
// connect..."), never to stdout (ssh-proxy's stdout is the SSH stream).
#ifndef PORTHOLE_CLI_CONNECT_FLOW_H_
#define PORTHOLE_CLI_CONNECT_FLOW_H_

#include <chrono>
#include <optional>
#include <string>

#include "cli/api_client.h"
#include "cli/operator_config.h"
#include "cli/relay_key_store.h"
#include "cli/session_flow.h"
#include "cli/ssh_command.h"

namespace porthole::cli {

// The logged-in operator: config, API client and porthole's directories.
// Loading it also sweeps expired relay keys (relay_key_store.h).
struct OperatorContext {
  OperatorConfig config;
  std::unique_ptr<OperatorApi> api;
  std::string config_dir;  // ~/.config/porthole
  std::string cache_dir;   // ~/.cache/porthole

  std::string DeviceKnownHosts() const { return config_dir + "/known_hosts"; }
  RelayKeyStore RelayKeys() const {
    return RelayKeyStore(cache_dir + "/relay");
  }
};
Result<OperatorContext> LoadOperatorContext();

struct ConnectRequest {
  std::string target;    // [USER@]DEVICE
  std::string key_file;  // --key; "" picks the first allowed key
  std::optional<std::chrono::seconds> ttl;
  std::chrono::seconds wait{120};
  const char* prog = "porthole";  // prefix of progress lines
};

struct PreparedConnection {
  ReadySession ready;
  std::string proxy_command;  // the relay hop, for ssh -o ProxyCommand=
  RelayHop relay_hop;
  DeviceHop device_hop;
};

// Splits "[USER@]DEVICE"; kInvalidArgument for a bad device name or user.
Result<std::pair<std::string, std::string>> SplitTarget(
    const std::string& target);

// The operator key: --key, else the first of ~/.ssh/id_*.pub and the
// agent's keys that the server's signed policy allows.
Result<OperatorKey> ChooseOperatorKey(OperatorApi& api,
                                      const std::string& key_file);

// Everything up to (not including) running ssh: key, session (opened or
// reused), relay key, tunnel up, known_hosts files written.
Result<PreparedConnection> PrepareConnection(OperatorContext& ctx,
                                             const ConnectRequest& request);

}  // namespace porthole::cli

#endif  // PORTHOLE_CLI_CONNECT_FLOW_H_
