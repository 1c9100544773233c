#include "cli/ssh_command.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "core/base/file.h"
#include "core/base/subprocess.h"
#include "core/base/test_util.h"

namespace porthole::cli {
namespace {

using Argv = std::vector<std::string>;

RelayHop SimpleHop() {
  RelayHop h;
  h.relay_host = "relay.example.com";
  h.relay_port = 2222;
  h.relay_key_file = "/c/relay/s-1/id_ed25519";
  h.relay_known_hosts = "/c/relay/s-1/known_hosts";
  h.device_name = "dev-7";
  return h;
}

TEST(SshCommandTest, RelayHopArgvExactly) {
  EXPECT_EQ(*RelayHopArgv(SimpleHop()),
            (Argv{"ssh",
                  "-o",
                  "IdentityFile=/c/relay/s-1/id_ed25519",
                  "-o",
                  "IdentitiesOnly=yes",
                  "-o",
                  "IdentityAgent=none",
                  "-o",
                  "UserKnownHostsFile=/c/relay/s-1/known_hosts",
                  "-o",
                  "GlobalKnownHostsFile=/dev/null",
                  "-o",
                  "StrictHostKeyChecking=yes",
                  "-o",
                  "BatchMode=yes",
                  "-W",
                  "dev-7:22",
                  "-p",
                  "2222",
                  "--",
                  "porthole@relay.example.com"}));
  EXPECT_EQ(*ProxyCommand(SimpleHop()),
            "'ssh' '-o' 'IdentityFile=/c/relay/s-1/id_ed25519' '-o' "
            "'IdentitiesOnly=yes' "
            "'-o' 'IdentityAgent=none' '-o' "
            "'UserKnownHostsFile=/c/relay/s-1/known_hosts' '-o' "
            "'GlobalKnownHostsFile=/dev/null' '-o' "
            "'StrictHostKeyChecking=yes' '-o' 'BatchMode=yes' '-W' "
            "'dev-7:22' '-p' '2222' '--' 'porthole@relay.example.com'");
}

TEST(SshCommandTest, ConnectArgvExactly) {
  DeviceHop d;
  d.device_name = "dev-7";
  d.login_user = "bob";
  d.known_hosts = "/h/.config/porthole/known_hosts";
  d.host_keys_known = true;
  d.identity_file = "/h/.ssh/id_ed25519_sk";
  d.identities_only = true;
  EXPECT_EQ(*ConnectArgv("ssh", "PC", d, {"-L", "8080:localhost:80", "uptime"}),
            (Argv{"ssh",
                  "-o",
                  "ProxyCommand=PC",
                  "-o",
                  "HostKeyAlias=porthole-dev-7",
                  "-o",
                  "UserKnownHostsFile=/h/.config/porthole/known_hosts",
                  "-o",
                  "StrictHostKeyChecking=yes",
                  "-o",
                  "HashKnownHosts=no",
                  "-o",
                  "IdentityFile=/h/.ssh/id_ed25519_sk",
                  "-o",
                  "IdentitiesOnly=yes",
                  "-l",
                  "bob",
                  "-p",
                  "22",
                  "dev-7",
                  "-L",
                  "8080:localhost:80",
                  "uptime"}));
  // No host keys known, no --key, no user: accept-new and ssh's defaults.
  DeviceHop plain;
  plain.device_name = "6f1c0b8e-2a47-4b3e-9d0c-3f3b1c2d4e5f";
  plain.known_hosts = "/h/kh";
  EXPECT_EQ(*ConnectArgv("/usr/bin/ssh", "PC", plain, {}),
            (Argv{"/usr/bin/ssh", "-o", "ProxyCommand=PC", "-o",
                  "HostKeyAlias=porthole-6f1c0b8e-2a47-4b3e-9d0c-3f3b1c2d4e5f",
                  "-o", "UserKnownHostsFile=/h/kh", "-o",
                  "StrictHostKeyChecking=accept-new", "-o", "HashKnownHosts=no",
                  "-p", "22", "6f1c0b8e-2a47-4b3e-9d0c-3f3b1c2d4e5f"}));
  // An agent key found in ~/.ssh without --key: -i but not IdentitiesOnly.
  plain.identity_file = "/h/.ssh/id_rsa";
  auto argv = *ConnectArgv("ssh", "PC", plain, {});
  EXPECT_EQ(std::count(argv.begin(), argv.end(), "IdentitiesOnly=yes"), 0);
  EXPECT_EQ(std::count(argv.begin(), argv.end(), "IdentityFile=/h/.ssh/id_rsa"),
            1);
}

TEST(SshCommandTest, SshConfigBlock) {
  DeviceHop d;
  d.device_name = "dev-7";
  d.known_hosts = "/h/kh";
  d.host_keys_known = true;
  EXPECT_EQ(
      *SshConfigBlock("ph-dev-7", "'/usr/bin/porthole' 'ssh-proxy' 'dev-7'", d),
      "Host ph-dev-7\n"
      "  HostName dev-7\n"
      "  ProxyCommand '/usr/bin/porthole' 'ssh-proxy' 'dev-7'\n"
      "  HostKeyAlias porthole-dev-7\n"
      "  UserKnownHostsFile /h/kh\n"
      "  StrictHostKeyChecking yes\n"
      "  HashKnownHosts no\n"
      "  Port 22\n");
}

TEST(SshCommandTest, DeviceNames) {
  for (std::string ok :
       std::vector<std::string>{"dev-7", "a", "A.b_c-9", std::string(63, 'x'),
                                "6f1c0b8e-2a47-4b3e-9d0c-3f3b1c2d4e5f"}) {
    EXPECT_TRUE(DeviceNameIsValid(ok)) << ok;
  }
  for (std::string bad :
       std::vector<std::string>{"", "-oProxyCommand=x", ".dev", "_dev", "a b",
                                "a;b", "dev/7", "dev-7\n", "a@b", "a:22", "%h",
                                std::string(64, 'x'), "d\xc3\xa9v"}) {
    EXPECT_FALSE(DeviceNameIsValid(bad)) << bad;
    RelayHop h = SimpleHop();
    h.device_name = bad;
    EXPECT_EQ(RelayHopArgv(h).status().code(), StatusCode::kInvalidArgument);
    DeviceHop d;
    d.device_name = bad;
    d.known_hosts = "/kh";
    EXPECT_EQ(ConnectArgv("ssh", "PC", d, {}).status().code(),
              StatusCode::kInvalidArgument);
  }
}

TEST(SshCommandTest, HostileRelayFromServer) {
  for (std::string host :
       {"-oProxyCommand=touch /tmp/x", "a b", "a;b", "", "h'", "h/x"}) {
    RelayHop h = SimpleHop();
    h.relay_host = host;
    EXPECT_EQ(RelayHopArgv(h).status().code(), StatusCode::kInvalidArgument)
        << host;
  }
  RelayHop v6 = SimpleHop();
  v6.relay_host = "::1";
  EXPECT_TRUE(RelayHopArgv(v6).ok());
}

TEST(SshCommandTest, PathsAndWords) {
  EXPECT_EQ(*SshPath("/a%b/k", "key"), "/a%%b/k");
  EXPECT_EQ(*SshPath("/a%b/k", "key", 2), "/a%%%%b/k");
  EXPECT_EQ(*SshPath("/a;b`c`|&(x)#!~/k", "key"), "/a;b`c`|&(x)#!~/k");
  const std::pair<std::string, std::string> bad[] = {
      {"rel/k", "key 'rel/k': not an absolute path"},
      {"", "key '': not an absolute path"},
      {"/a b",
       "key '/a b': ssh would misread this path (it contains a space, "
       "quote, backslash, '$' or control character); use a path "
       "without them"},
  };
  for (const auto& [path, error] : bad) {
    EXPECT_EQ(SshPath(path, "key").status().message(), error);
  }
  for (std::string p :
       {"/a'b", "/a\"b", "/a\\b", "/a$b", "/a${HOME}", "/a\nb", "/a\tb"}) {
    EXPECT_EQ(SshPath(p, "key").status().code(), StatusCode::kInvalidArgument)
        << p;
  }
  EXPECT_EQ(*ProxyCommandWord("it's 100%"), "'it'\\''s 100%%'");
  EXPECT_FALSE(ProxyCommandWord("a\\b").ok());
  EXPECT_FALSE(ProxyCommandWord("a\nb").ok());
}

// The ProxyCommand survives the real thing: OpenSSH's own option parser,
// its %-expansion and /bin/sh. The "inner ssh" is a script that writes the
// argument vector it received; it must be exactly RelayHopArgv(), and
// nothing in the hostile names may run.
TEST(SshCommandTest, RealSshHandsTheProxyExactlyTheIntendedArgv) {
  TempDir tmp;
  std::string weird = tmp.Join("it's $(touch PWNED) `touch PWNED2` %h;&|");
  ASSERT_TRUE(MakeDirs(weird, 0700).ok());
  std::string dump = tmp.Join("argv");
  std::string prog = weird + "/dump argv";
  ASSERT_TRUE(AtomicReplace(prog,
                            "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\0' "
                            "\"$a\"; done > '" +
                                dump + "'\nexit 3\n",
                            ReplaceOptions::NewMode(0755))
                  .ok());
  std::string safe_dir = tmp.Join("keys;x%h%%p#y!z&(w)");
  ASSERT_TRUE(MakeDirs(safe_dir, 0700).ok());
  RelayHop h = SimpleHop();
  h.ssh_program = prog;
  h.relay_key_file = safe_dir + "/id_ed25519";
  h.relay_known_hosts = safe_dir + "/known_hosts";
  auto pc = ProxyCommand(h);
  ASSERT_TRUE(pc.ok()) << pc.status().message();
  DeviceHop d;
  d.device_name = "dev-7";
  d.known_hosts = safe_dir + "/kh";
  auto argv = ConnectArgv("ssh", *pc, d,
                          {"-F", "/dev/null", "-o", "BatchMode=yes", "true"});
  ASSERT_TRUE(argv.ok()) << argv.status().message();
  RunOptions o;
  o.env = SshEnvironment();
  o.env.push_back("HOME=" + tmp.path());
  o.timeout = std::chrono::seconds(20);
  auto r = RunProcess(*argv, o);
  ASSERT_TRUE(r.ok());
  EXPECT_NE(r->exit_code, 0);  // the "proxy" ends at once
  auto got = ReadFile(dump, 1 << 20);
  ASSERT_TRUE(got.ok()) << "the proxy never ran; ssh said: " << r->err;
  Argv received;
  size_t pos = 0;
  while (pos < got->size()) {
    size_t nul = got->find('\0', pos);
    received.push_back(got->substr(pos, nul - pos));
    pos = nul + 1;
  }
  Argv want = *RelayHopArgv(h);
  want.erase(want.begin());  // $0
  EXPECT_EQ(received, want);
  EXPECT_FALSE(PathExists(tmp.Join("PWNED")));
  EXPECT_FALSE(PathExists(weird + "/PWNED"));
  EXPECT_FALSE(PathExists("PWNED2"));
  EXPECT_FALSE(PathExists(tmp.Join("PWNED2")));
}

// OpenSSH reads the outer options as meant (ssh -G prints the result).
TEST(SshCommandTest, RealSshParsesTheOuterOptions) {
  TempDir tmp;
  std::string dir = tmp.Join("a%b");
  ASSERT_TRUE(MakeDirs(dir, 0700).ok());
  ASSERT_TRUE(
      AtomicReplace(dir + "/id", "x", ReplaceOptions::NewMode(0600)).ok());
  DeviceHop d;
  d.device_name = "dev-7";
  d.login_user = "bob";
  d.known_hosts = dir + "/known_hosts";
  d.host_keys_known = true;
  d.identity_file = dir + "/id";
  d.identities_only = true;
  auto argv = ConnectArgv("ssh", "'x' '%h'", d, {"-F", "/dev/null"});
  ASSERT_TRUE(argv.ok());
  argv->insert(argv->begin() + 1, "-G");
  auto r = RunProcess(*argv);
  ASSERT_TRUE(r.ok() && r->success()) << (r.ok() ? r->err : "");
  for (std::string line : std::vector<std::string>{
           "user bob", "hostname dev-7", "port 22",
           "hostkeyalias porthole-dev-7", "stricthostkeychecking true",
           "hashknownhosts no", "identitiesonly yes",
           "userknownhostsfile " + dir + "/known_hosts",
           // ssh -G shows IdentityFile before its %-expansion.
           "identityfile " + tmp.path() + "/a%%b/id",
           "proxycommand 'x' '%h'"}) {
    EXPECT_NE(r->out.find("\n" + line + "\n"), std::string::npos)
        << line << "\n"
        << r->out;
  }
}

}  // namespace
}  // namespace porthole::cli
