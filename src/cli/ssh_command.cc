#include "cli/ssh_command.h"

#include <cstdlib>

namespace porthole::cli {
namespace {

std::string DoublePercent(std::string_view s) {
  std::string out;
  for (char c : s) {
    out += c;
    if (c == '%') out += '%';
  }
  return out;
}

bool RelayHostIsValid(std::string_view host) {
  if (host.empty() || host.size() > 255 || host[0] == '-') return false;
  for (char c : host) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '-' || c == ':' ||
              c == '_';
    if (!ok) return false;
  }
  return true;
}

Status CheckDeviceName(std::string_view name) {
  if (DeviceNameIsValid(name)) return Status::Ok();
  std::string shown;
  for (char c : name.substr(0, 64)) {
    shown += (c >= 0x21 && c < 0x7f) ? c : '?';
  }
  return Status::InvalidArgument(
      "device name '" + shown +
      "' is not [A-Za-z0-9][A-Za-z0-9._-]{0,62}; porthole will not hand it "
      "to ssh");
}

}  // namespace

bool DeviceNameIsValid(std::string_view name) {
  if (name.empty() || name.size() > 63) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                 (c >= '0' && c <= '9');
    if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-'))) return false;
  }
  return true;
}

std::string HostKeyAlias(std::string_view device_name) {
  return "porthole-" + std::string(device_name);
}

std::string SshProgram() {
  const char* ssh = std::getenv("PORTHOLE_SSH");
  return ssh && *ssh ? ssh : "ssh";
}

std::vector<std::string> SshEnvironment() { return {"SHELL=/bin/sh"}; }

Result<std::string> ProxyCommandWord(std::string_view word) {
  std::string q = "'";
  for (char c : word) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f || c == '\\') {
      return Status::InvalidArgument(
          "cannot put '" + std::string(word.substr(0, 80)) +
          "' into an ssh ProxyCommand (control character or backslash)");
    }
    if (c == '\'') {
      q += "'\\''";
    } else if (c == '%') {
      q += "%%";
    } else {
      q += c;
    }
  }
  return q + "'";
}

Result<std::string> SshPath(const std::string& path, std::string_view what,
                            int percent_levels) {
  auto bad = [&](const std::string& why) {
    std::string shown;
    for (char c : path.substr(0, 200)) {
      shown += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
    }
    return Status::InvalidArgument(std::string(what) + " '" + shown +
                                   "': " + why);
  };
  if (path.empty() || path[0] != '/') return bad("not an absolute path");
  for (char c : path) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f || c == '"' || c == '\'' || c == '\\' ||
        c == '$') {
      return bad(
          "ssh would misread this path (it contains a space, quote, "
          "backslash, '$' or control character); use a path without them");
    }
  }
  std::string out = path;
  for (int i = 0; i < percent_levels; ++i) out = DoublePercent(out);
  return out;
}

Result<std::vector<std::string>> RelayHopArgv(const RelayHop& hop) {
  PH_RETURN_IF_ERROR(CheckDeviceName(hop.device_name));
  if (!RelayHostIsValid(hop.relay_host)) {
    return Status::InvalidArgument(
        "relay host '" + hop.relay_host.substr(0, 80) +
        "' from the server is not a host name porthole will hand to ssh");
  }
  if (hop.relay_port == 0) {
    return Status::InvalidArgument("relay port 0 from the server");
  }
  PH_ASSIGN_OR_RETURN(std::string key,
                      SshPath(hop.relay_key_file, "relay key"));
  PH_ASSIGN_OR_RETURN(std::string kh,
                      SshPath(hop.relay_known_hosts, "relay known_hosts file"));
  return std::vector<std::string>{hop.ssh_program,
                                  "-o",
                                  "IdentityFile=" + key,
                                  "-o",
                                  "IdentitiesOnly=yes",
                                  "-o",
                                  "IdentityAgent=none",
                                  "-o",
                                  "UserKnownHostsFile=" + kh,
                                  "-o",
                                  "GlobalKnownHostsFile=/dev/null",
                                  "-o",
                                  "StrictHostKeyChecking=yes",
                                  "-o",
                                  "BatchMode=yes",
                                  "-W",
                                  hop.device_name + ":22",
                                  "-p",
                                  std::to_string(hop.relay_port),
                                  "--",
                                  hop.relay_user + "@" + hop.relay_host};
}

Result<std::string> ProxyCommand(const RelayHop& hop) {
  PH_ASSIGN_OR_RETURN(auto argv, RelayHopArgv(hop));
  std::string out;
  for (const auto& a : argv) {
    PH_ASSIGN_OR_RETURN(std::string w, ProxyCommandWord(a));
    out += (out.empty() ? "" : " ") + w;
  }
  return out;
}

Result<std::vector<std::pair<std::string, std::string>>> DeviceSshOptions(
    const std::string& proxy_command, const DeviceHop& device) {
  PH_RETURN_IF_ERROR(CheckDeviceName(device.device_name));
  PH_ASSIGN_OR_RETURN(std::string kh,
                      SshPath(device.known_hosts, "known_hosts file"));
  std::vector<std::pair<std::string, std::string>> o = {
      {"ProxyCommand", proxy_command},
      {"HostKeyAlias", HostKeyAlias(device.device_name)},
      {"UserKnownHostsFile", kh},
      {"StrictHostKeyChecking", device.host_keys_known ? "yes" : "accept-new"},
      {"HashKnownHosts", "no"},
  };
  if (!device.identity_file.empty()) {
    PH_ASSIGN_OR_RETURN(std::string key,
                        SshPath(device.identity_file, "key file"));
    o.emplace_back("IdentityFile", key);
    if (device.identities_only) o.emplace_back("IdentitiesOnly", "yes");
  }
  o.emplace_back("Port", "22");
  return o;
}

Result<std::vector<std::string>> ConnectArgv(
    const std::string& ssh_program, const std::string& proxy_command,
    const DeviceHop& device, const std::vector<std::string>& extra) {
  PH_ASSIGN_OR_RETURN(auto options, DeviceSshOptions(proxy_command, device));
  if (!device.login_user.empty() &&
      (device.login_user[0] == '-' ||
       device.login_user.find_first_of(" \t\r\n@") != std::string::npos)) {
    return Status::InvalidArgument("bad user name '" + device.login_user + "'");
  }
  std::vector<std::string> argv = {ssh_program};
  for (const auto& [name, value] : options) {
    if (name == "Port") continue;  // -p below
    argv.insert(argv.end(), {"-o", name + "=" + value});
  }
  if (!device.login_user.empty()) {
    argv.insert(argv.end(), {"-l", device.login_user});
  }
  argv.insert(argv.end(), {"-p", "22", device.device_name});
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

Result<std::string> SshConfigBlock(const std::string& alias,
                                   const std::string& proxy_command,
                                   const DeviceHop& device) {
  PH_RETURN_IF_ERROR(CheckDeviceName(alias));
  PH_ASSIGN_OR_RETURN(auto options, DeviceSshOptions(proxy_command, device));
  std::string out =
      "Host " + alias + "\n  HostName " + device.device_name + "\n";
  for (const auto& [name, value] : options) {
    if (name == "Port") {
      out += "  Port 22\n";
      continue;
    }
    out += "  " + name + " " + value + "\n";
  }
  return out;
}

}  // namespace porthole::cli
