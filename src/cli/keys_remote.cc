#include "cli/keys_remote.h"

#include <cstdio>
#include <cstdlib>

#include "core/base/subprocess.h"

namespace porthole::cli {
namespace {

constexpr std::string_view kMagic = "porthole-keys-request 1";

int PassThrough(const RunResult& r) {
  if (r.term_signal != 0) return 1;
  return r.exit_code;
}

}  // namespace

std::string EncodeKeysRequest(const KeysRequest& request) {
  std::string out(kMagic);
  out += '\0';
  for (const auto& a : request.args) {
    out += a;
    out += '\0';
  }
  out += '\0';
  out += request.catalogue_toml;
  return out;
}

Result<KeysRequest> DecodeKeysRequest(std::string_view data) {
  auto bad = [](const char* why) {
    return Status::InvalidArgument(std::string("bad keys request on stdin: ") +
                                   why);
  };
  if (data.size() > kMaxKeysRequest) return bad("too large");
  if (data.substr(0, kMagic.size() + 1) != std::string(kMagic) + '\0') {
    return bad("wrong header (is the local porthole the same version?)");
  }
  data.remove_prefix(kMagic.size() + 1);
  KeysRequest r;
  for (;;) {
    size_t nul = data.find('\0');
    if (nul == std::string_view::npos) return bad("truncated");
    if (nul == 0) {
      data.remove_prefix(1);
      break;
    }
    if (r.args.size() >= 4096) return bad("too many arguments");
    r.args.emplace_back(data.substr(0, nul));
    data.remove_prefix(nul + 1);
  }
  if (r.args.empty()) return bad("no verb");
  if (data.find('\0') != std::string_view::npos) return bad("NUL in catalogue");
  r.catalogue_toml = std::string(data);
  return r;
}

std::string ShellQuote(std::string_view word) {
  std::string q = "'";
  for (char c : word) {
    if (c == '\'') {
      q += "'\\''";
    } else {
      q += c;
    }
  }
  return q + "'";
}

std::vector<std::string> SshArgv(const RemoteTarget& target,
                                 const std::string& remote_command) {
  const char* ssh = std::getenv("PORTHOLE_SSH");
  std::vector<std::string> argv = {ssh && *ssh ? ssh : "ssh", "-T"};
  if (!target.ssh_config.empty()) {
    argv.insert(argv.end(), {"-F", target.ssh_config});
  }
  if (!target.jump.empty()) argv.insert(argv.end(), {"-J", target.jump});
  for (const auto& o : target.ssh_options) {
    argv.insert(argv.end(), {"-o", o});
  }
  argv.insert(argv.end(), {"--", target.host, remote_command});
  return argv;
}

Result<int> RunKeysRemote(const RemoteTarget& target,
                          const KeysRequest& request) {
  RunOptions opts;
  opts.stdin_data = EncodeKeysRequest(request);
  opts.capture_stdout = false;
  opts.capture_stderr = false;
  opts.env = target.env;
  auto argv = SshArgv(
      target, ShellQuote(target.remote_porthole) + " keys --from-stdin");
  PH_ASSIGN_OR_RETURN(RunResult r, RunProcess(argv, opts));
  if (r.exit_code == 255 || r.term_signal != 0) {
    std::fprintf(stderr, "porthole keys: ssh to %s failed (%s)\n",
                 target.host.c_str(), r.Describe().c_str());
    return 1;
  }
  if (r.exit_code == 126 || r.exit_code == 127) {
    std::fprintf(stderr,
                 "porthole keys: %s: could not run %s there (%s); is porthole "
                 "installed? (--remote-porthole PATH)\n",
                 target.host.c_str(), target.remote_porthole.c_str(),
                 r.Describe().c_str());
    return 1;
  }
  return PassThrough(r);
}

Result<int> RunKeysElevated(const KeysRequest& request) {
  PH_ASSIGN_OR_RETURN(std::string self, SelfExecutable());
  RunOptions opts;
  opts.stdin_data = EncodeKeysRequest(request);
  opts.capture_stdout = false;
  opts.capture_stderr = false;
  PH_ASSIGN_OR_RETURN(
      RunResult r,
      RunProcess({"sudo", "-n", "--", self, "keys", "--from-stdin"}, opts));
  return PassThrough(r);
}

}  // namespace porthole::cli
