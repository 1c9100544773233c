#include "cli/connect_flow.h"

#include <cstdio>

#include "cli/duration_arg.h"
#include "cli/known_hosts.h"
#include "cli/table.h"

namespace porthole::cli {

Result<OperatorContext> LoadOperatorContext() {
  OperatorContext ctx;
  PH_ASSIGN_OR_RETURN(std::string path, OperatorConfigPath());
  PH_ASSIGN_OR_RETURN(ctx.config, LoadOperatorConfig(path));
  PH_ASSIGN_OR_RETURN(OperatorApi api, OperatorApi::FromConfig(ctx.config));
  ctx.api = std::make_unique<OperatorApi>(std::move(api));
  PH_ASSIGN_OR_RETURN(ctx.config_dir, PortholeConfigDir());
  PH_ASSIGN_OR_RETURN(ctx.cache_dir, PortholeCacheDir());
  ctx.RelayKeys().Sweep(Clock::Real().Now());
  return ctx;
}

Result<std::pair<std::string, std::string>> SplitTarget(
    const std::string& target) {
  std::string user, device = target;
  if (size_t at = target.rfind('@'); at != std::string::npos) {
    user = target.substr(0, at);
    device = target.substr(at + 1);
    if (user.empty() || user[0] == '-' ||
        user.find_first_of(" \t\r\n@'\"\\") != std::string::npos) {
      return Status::InvalidArgument("bad user name in '" + target + "'");
    }
  }
  if (!DeviceNameIsValid(device)) {
    return Status::InvalidArgument(
        "bad device '" + Printable(device) +
        "' (a name or UUID: [A-Za-z0-9][A-Za-z0-9._-]{0,62})");
  }
  return std::pair{user, device};
}

Result<OperatorKey> ChooseOperatorKey(OperatorApi& api,
                                      const std::string& key_file) {
  if (!key_file.empty()) return LoadKeyArg(key_file);
  PH_ASSIGN_OR_RETURN(std::string home, HomeDir());
  std::vector<std::string> warnings;
  auto candidates = CandidateKeys(home + "/.ssh", AgentIdentities(), &warnings);
  PH_ASSIGN_OR_RETURN(PolicyStatus policy, api.GetPolicy());
  std::vector<std::string> allowed;
  for (const auto& k : policy.published.authorized_keys) {
    allowed.push_back(k.pubkey);
  }
  auto chosen = SelectAllowedKey(candidates, allowed);
  if (!chosen.ok()) {
    for (const auto& w : warnings) {
      std::fprintf(stderr, "porthole: %s\n", Printable(w).c_str());
    }
  }
  return chosen;
}

Result<PreparedConnection> PrepareConnection(OperatorContext& ctx,
                                             const ConnectRequest& request) {
  PH_ASSIGN_OR_RETURN(auto target, SplitTarget(request.target));
  OperatorApi& api = *ctx.api;
  PH_ASSIGN_OR_RETURN(OperatorKey key,
                      ChooseOperatorKey(api, request.key_file));
  RelayKeyStore store = ctx.RelayKeys();
  SessionNeeds needs{target.second, {key}, request.ttl, &store};
  PH_ASSIGN_OR_RETURN(ReadySession ready, OpenOrReuseSession(api, needs));
  Session& s = ready.session;
  const std::string name = ready.device.name;
  std::fprintf(
      stderr, "%s: %s session %s on %s%s\n", request.prog,
      ready.opened ? "opened" : "using", Printable(s.id).c_str(),
      Printable(name).c_str(),
      s.expires_at ? (" until " + Printable(*s.expires_at)).c_str() : "");
  auto up = WaitForTunnel(api, s, request.wait, [&] {
    std::fprintf(stderr, "%s: waiting for %s to connect...\n", request.prog,
                 Printable(name).c_str());
  });
  if (!up.ok()) {
    // A session that ended while we waited takes its relay key with it.
    if (up.status().code() == StatusCode::kFailedPrecondition) {
      (void)store.Remove(s.id);
    }
    return up.status();
  }
  s = std::move(*up);

  PreparedConnection pc;
  RelayInfo relay;
  if (s.relay) {
    relay = *s.relay;
  } else {
    PH_ASSIGN_OR_RETURN(relay, api.GetRelay());
  }
  const RelayKeyStore::Entry& rk = *ready.relay_key;
  PH_RETURN_IF_ERROR(UpdateKnownHosts(
      rk.known_hosts, KnownHostsHostSpec(relay.host, relay.port),
      {relay.host_key}));
  PH_RETURN_IF_ERROR(UpdateKnownHosts(
      ctx.DeviceKnownHosts(), HostKeyAlias(name), ready.device.host_keys));
  pc.relay_hop.ssh_program = SshProgram();
  pc.relay_hop.relay_host = relay.host;
  pc.relay_hop.relay_port = relay.port;
  pc.relay_hop.relay_key_file = rk.key_file;
  pc.relay_hop.relay_known_hosts = rk.known_hosts;
  pc.relay_hop.device_name = name;
  PH_ASSIGN_OR_RETURN(pc.proxy_command, ProxyCommand(pc.relay_hop));
  pc.device_hop.device_name = name;
  pc.device_hop.login_user = target.first;
  pc.device_hop.known_hosts = ctx.DeviceKnownHosts();
  pc.device_hop.host_keys_known = !ready.device.host_keys.empty();
  pc.device_hop.identity_file = key.identity_file;
  pc.device_hop.identities_only = !request.key_file.empty();
  if (!pc.device_hop.host_keys_known) {
    std::fprintf(stderr,
                 "%s: warning: the server knows no host key for %s yet; "
                 "ssh will trust the first one it sees (accept-new)\n",
                 request.prog, Printable(name).c_str());
  }
  pc.ready = std::move(ready);
  return pc;
}

}  // namespace porthole::cli
