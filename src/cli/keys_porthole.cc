#include "cli/keys_porthole.h"

#include "cli/connect_flow.h"

namespace porthole::cli {

bool IsPortholeHost(std::string_view host) {
  return host.starts_with(kPortholeHostPrefix);
}

Result<RemoteTarget> PortholeTarget(const std::string& host,
                                    RemoteTarget base) {
  if (!base.jump.empty()) {
    return Status::InvalidArgument("-J cannot be used with " + host +
                                   ": the relay is the jump host");
  }
  ConnectRequest req;
  req.target = host.substr(kPortholeHostPrefix.size());
  req.prog = "porthole keys";
  PH_ASSIGN_OR_RETURN(auto target, SplitTarget(req.target));
  PH_ASSIGN_OR_RETURN(OperatorContext ctx, LoadOperatorContext());
  PH_ASSIGN_OR_RETURN(PreparedConnection pc, PrepareConnection(ctx, req));
  PH_ASSIGN_OR_RETURN(auto options,
                      DeviceSshOptions(pc.proxy_command, pc.device_hop));
  std::vector<std::string> o;
  for (const auto& [name, value] : options) o.push_back(name + "=" + value);
  o.insert(o.end(), base.ssh_options.begin(), base.ssh_options.end());
  base.ssh_options = std::move(o);
  base.host = (target.first.empty() ? "" : target.first + "@") +
              pc.device_hop.device_name;
  base.env = SshEnvironment();
  return base;
}

}  // namespace porthole::cli
