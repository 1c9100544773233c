// porthole connect [USER@]DEVICE [--key FILE] [--for D] [--wait D] [--close]
//                  [-- SSH ARGS...]
// porthole ssh-config [--prefix P] [--key FILE]
// porthole ssh-proxy DEVICE [--key FILE] [--for D] [--wait D]   (ssh-config)
//
// connect: from nothing to a prompt. It picks the operator key, opens (or
// reuses) a session with a relay-only key, waits for the device's tunnel,
// writes the known_hosts files and then execs the user's ssh (argv only;
// see ssh_command.h for the command line and its quoting). The relay key
// stays for the session's lifetime (relay_key_store.h says why). With
// --close, ssh runs as a child instead; when it exits porthole closes the
// session, removes the relay key and exits with ssh's status.
//
// ssh-config prints one Host block per device the server lists (not
// removed), so that `ssh DEVICE` works: the block's ProxyCommand is
// `porthole ssh-proxy DEVICE`, which does what connect does up to the relay
// hop and then execs the inner ssh -W with its stdin/stdout as the stream.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "cli/connect_flow.h"
#include "cli/duration_arg.h"
#include "cli/known_hosts.h"
#include "cli/table.h"
#include "core/base/exit_code.h"
#include "core/base/subprocess.h"

namespace porthole::cli {
namespace {

struct ConnectArgs {
  std::string target, key_file, ttl_text, wait_text = "2m";
  bool close = false;
};

void AddSessionOptions(CLI::App& app, ConnectArgs& a) {
  app.add_option("--key", a.key_file,
                 "your key (private key or .pub; default: the first of "
                 "~/.ssh/id_*.pub and ssh-agent keys the policy allows)");
  app.add_option("--for", a.ttl_text,
                 "session length if one is opened: 90s, 15m, 1h, 7d "
                 "(default: the server's)");
  app.add_option("--wait", a.wait_text,
                 "how long to wait for the device to connect (default 2m)");
}

Result<ConnectRequest> MakeRequest(const ConnectArgs& a, const char* prog) {
  ConnectRequest r;
  r.target = a.target;
  r.key_file = a.key_file;
  r.prog = prog;
  if (!a.ttl_text.empty()) {
    PH_ASSIGN_OR_RETURN(r.ttl, ParseDurationArg(a.ttl_text, "--for"));
  }
  PH_ASSIGN_OR_RETURN(r.wait, ParseDurationArg(a.wait_text, "--wait"));
  return r;
}

std::vector<char*> CArgv(std::vector<std::string>& argv) {
  std::vector<char*> out;
  for (auto& a : argv) out.push_back(a.data());
  out.push_back(nullptr);
  return out;
}

// Replaces this process with `argv` (PATH searched), SHELL=/bin/sh.
int ExecSsh(std::vector<std::string> argv, const char* prog) {
  for (const auto& e : SshEnvironment()) {
    size_t eq = e.find('=');
    setenv(e.substr(0, eq).c_str(), e.substr(eq + 1).c_str(), 1);
  }
  signal(SIGPIPE, SIG_DFL);
  std::fflush(nullptr);
  auto c = CArgv(argv);
  execvp(c[0], c.data());
  return Fail(prog, PosixError("cannot run " + argv[0], errno));
}

// Runs ssh as a child on our terminal; returns its exit status as a shell
// would (128+N for a signal).
Result<int> RunSshChild(const std::vector<std::string>& argv) {
  SpawnOptions o;
  o.env = SshEnvironment();
  o.stdin_fd = STDIN_FILENO;
  o.stdout_fd = STDOUT_FILENO;
  o.stderr_fd = STDERR_FILENO;
  std::fflush(nullptr);
  PH_ASSIGN_OR_RETURN(pid_t pid, SpawnProcess(argv, o));
  // ssh owns the terminal now: Ctrl-C, a closed terminal or a kill must
  // not take porthole away before it has closed the session. (Set after
  // the spawn, so ssh keeps the default dispositions.)
  for (int sig : {SIGINT, SIGQUIT, SIGHUP, SIGTERM}) signal(sig, SIG_IGN);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return PosixError("waitpid", errno);
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}

}  // namespace

int RunConnect(const Args& all_args) {
  const char* prog = "porthole connect";
  auto [args, extra] = SplitAtDashDash(all_args);
  CLI::App app(
      "Open (or reuse) a session on DEVICE, wait for the device, and run "
      "ssh to it through the relay. Arguments after -- go to ssh (after the "
      "destination: options and a remote command).",
      prog);
  ConnectArgs a;
  app.add_option("[USER@]DEVICE", a.target, "device name or UUID")->required();
  AddSessionOptions(app, a);
  app.add_flag("--close", a.close,
               "run ssh as a child and close the session when it exits");
  if (int rc = ParseCli(app, args); rc >= 0) return rc;
  auto req = MakeRequest(a, prog);
  if (!req.ok()) return Fail(prog, req.status());
  if (auto t = SplitTarget(a.target); !t.ok()) return Fail(prog, t.status());
  auto ctx = LoadOperatorContext();
  if (!ctx.ok()) return Fail(prog, ctx.status());
  auto pc = PrepareConnection(*ctx, *req);
  if (!pc.ok()) return Fail(prog, pc.status());
  auto argv =
      ConnectArgv(SshProgram(), pc->proxy_command, pc->device_hop, extra);
  if (!argv.ok()) return Fail(prog, argv.status());
  if (!a.close) return ExecSsh(std::move(*argv), prog);

  auto code = RunSshChild(*argv);
  const Session& s = pc->ready.session;
  auto closed = ctx->api->CloseSession(s.id);
  (void)ctx->RelayKeys().Remove(s.id);
  if (!closed.ok()) {
    std::fprintf(stderr, "%s: could not close session %s: %s\n", prog,
                 Printable(s.id).c_str(), closed.status().message().c_str());
  } else {
    std::fprintf(stderr, "%s: closed session %s\n", prog,
                 Printable(s.id).c_str());
  }
  if (!code.ok()) return Fail(prog, code.status());
  return *code;
}

int RunSshProxy(const Args& args) {
  const char* prog = "porthole ssh-proxy";
  CLI::App app(
      "The ProxyCommand of porthole ssh-config blocks: open or reuse a "
      "session on DEVICE, wait for it, then carry the SSH stream to it "
      "through the relay on stdin/stdout.",
      prog);
  ConnectArgs a;
  app.add_option("DEVICE", a.target, "device name or UUID")->required();
  AddSessionOptions(app, a);
  if (int rc = ParseCli(app, args); rc >= 0) return rc;
  auto req = MakeRequest(a, prog);
  if (!req.ok()) return Fail(prog, req.status());
  if (a.target.find('@') != std::string::npos) {
    return Fail(prog, Status::InvalidArgument("DEVICE, not USER@DEVICE"));
  }
  auto ctx = LoadOperatorContext();
  if (!ctx.ok()) return Fail(prog, ctx.status());
  auto pc = PrepareConnection(*ctx, *req);
  if (!pc.ok()) return Fail(prog, pc.status());
  auto argv = RelayHopArgv(pc->relay_hop);
  if (!argv.ok()) return Fail(prog, argv.status());
  return ExecSsh(std::move(*argv), prog);
}

int RunSshConfig(const Args& args) {
  const char* prog = "porthole ssh-config";
  CLI::App app(
      "Print ssh_config Host blocks, one per device, so that plain `ssh "
      "DEVICE` (scp, sftp, rsync) works through porthole. Append them to "
      "~/.ssh/config or Include a file holding them.",
      prog);
  std::string prefix, key_file;
  app.add_option("--prefix", prefix,
                 "put this before each Host name (e.g. 'ph-')");
  app.add_option("--key", key_file,
                 "the key the blocks use (default: chosen at each connect)");
  if (int rc = ParseCli(app, args); rc >= 0) return rc;
  std::string key_abs;
  if (!key_file.empty()) {
    auto k = LoadKeyArg(key_file);
    if (!k.ok()) return Fail(prog, k.status());
    char* real = realpath(k->identity_file.c_str(), nullptr);
    key_abs = real ? real : k->identity_file;
    std::free(real);
  }
  auto ctx = LoadOperatorContext();
  if (!ctx.ok()) return Fail(prog, ctx.status());
  auto self = SelfExecutable();
  if (!self.ok()) return Fail(prog, self.status());
  auto devices = ctx->api->ListDevices(false);
  if (!devices.ok()) return Fail(prog, devices.status());

  std::string out = "# porthole ssh-config for " + ctx->config.server +
                    ": one block per device (porthole ssh-config > FILE)\n";
  for (const auto& d : *devices) {
    if (!DeviceNameIsValid(d.name)) {
      std::fprintf(stderr, "%s: skipping device with unusable name '%s'\n",
                   prog, Printable(d.name).c_str());
      continue;
    }
    std::string proxy;
    std::vector<std::string> words = {*self, "ssh-proxy"};
    if (!key_abs.empty()) words.insert(words.end(), {"--key", key_abs});
    words.push_back(d.name);
    for (const auto& w : words) {
      auto q = ProxyCommandWord(w);
      if (!q.ok()) return Fail(prog, q.status());
      proxy += (proxy.empty() ? "" : " ") + *q;
    }
    if (Status s = UpdateKnownHosts(ctx->DeviceKnownHosts(),
                                    HostKeyAlias(d.name), d.host_keys);
        !s.ok()) {
      std::fprintf(stderr, "%s: %s: %s\n", prog, Printable(d.name).c_str(),
                   s.message().c_str());
      continue;
    }
    DeviceHop hop;
    hop.device_name = d.name;
    hop.known_hosts = ctx->DeviceKnownHosts();
    hop.host_keys_known = !d.host_keys.empty();
    hop.identity_file = key_abs;
    hop.identities_only = !key_abs.empty();
    auto block = SshConfigBlock(prefix + d.name, proxy, hop);
    if (!block.ok()) return Fail(prog, block.status());
    out += "\n" + *block;
  }
  Print(out);
  return kExitSuccess;
}

}  // namespace porthole::cli
