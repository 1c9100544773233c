#include "cli/operator_config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>

#include "cli/pem.h"
#include "core/base/file.h"
#include "core/base/subprocess.h"
#include "core/base/test_util.h"
#include "core/config/toml.h"

namespace porthole::cli {
namespace {

// A real certificate made by openssl (tests/tools/mkcerts.sh), once.
const std::string& CaPem() {
  static const std::string* pem = [] {
    static TempDir dir;
    auto r = RunProcess(
        {"bash", std::string(PORTHOLE_SOURCE_DIR) + "/tests/tools/mkcerts.sh",
         dir.path()});
    if (!r.ok() || !r->success()) std::abort();
    return new std::string(ReadFile(dir.Join("ca.crt"), 1 << 20).value());
  }();
  return *pem;
}

OperatorConfig Good() {
  return {"https://porthole.example.com:8444", "ph_abc.DEF-123", CaPem()};
}

mode_t ModeOf(const std::string& path) {
  struct stat st;
  EXPECT_EQ(lstat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

TEST(OperatorConfigTest, SaveLoadRoundTripWithPrivateModes) {
  TempDir tmp;
  std::string path = tmp.Join("cfg/porthole/operator.toml");
  ASSERT_TRUE(SaveOperatorConfig(path, Good()).ok());
  EXPECT_EQ(ModeOf(path), 0600u);
  EXPECT_EQ(ModeOf(tmp.Join("cfg/porthole")), 0700u);
  auto back = LoadOperatorConfig(path);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(*back, Good());
  // Saving again over a file someone loosened makes it 0600 again, and a
  // loose directory of ours is tightened.
  ASSERT_EQ(chmod(path.c_str(), 0644), 0);
  ASSERT_EQ(chmod(tmp.Join("cfg/porthole").c_str(), 0755), 0);
  OperatorConfig other = Good();
  other.token = "second";
  ASSERT_TRUE(SaveOperatorConfig(path, other).ok());
  EXPECT_EQ(ModeOf(path), 0600u);
  EXPECT_EQ(ModeOf(tmp.Join("cfg/porthole")), 0700u);
  EXPECT_EQ(LoadOperatorConfig(path)->token, "second");
  // Nothing else is left in the directory (no temporary files).
  auto r = RunProcess({"ls", "-A", tmp.Join("cfg/porthole")});
  EXPECT_EQ(r->out, "operator.toml\n");
}

TEST(OperatorConfigTest, InvalidConfigIsNeverWritten) {
  TempDir tmp;
  std::string path = tmp.Join("operator.toml");
  ASSERT_TRUE(SaveOperatorConfig(path, Good()).ok());
  OperatorConfig bad = Good();
  bad.token = "two words";
  Status s = SaveOperatorConfig(path, bad);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(LoadOperatorConfig(path)->token, Good().token);
}

TEST(OperatorConfigTest, MissingFileSaysHowToLogIn) {
  TempDir tmp;
  auto r = LoadOperatorConfig(tmp.Join("operator.toml"));
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(r.status().message(),
            "not logged in (no " + tmp.Join("operator.toml") +
                "): porthole login URL --token-file FILE --ca-sha256 HEX");
}

TEST(OperatorConfigTest, HostileFilesAreRefused) {
  TempDir tmp;
  std::string real = tmp.Join("real.toml");
  ASSERT_TRUE(SaveOperatorConfig(real, Good()).ok());

  std::string link = tmp.Join("link.toml");
  ASSERT_EQ(symlink(real.c_str(), link.c_str()), 0);
  auto r = LoadOperatorConfig(link);
  EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(r.status().message(), link + ": is a symbolic link; refusing it");
  // Saving through the link is refused too and leaves the target alone.
  EXPECT_FALSE(SaveOperatorConfig(link, Good()).ok());

  ASSERT_EQ(chmod(real.c_str(), 0640), 0);
  r = LoadOperatorConfig(real);
  EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(r.status().message(),
            real + ": mode 0640 lets others read the token; chmod 600 " + real);
  ASSERT_EQ(chmod(real.c_str(), 0600), 0);

  ASSERT_EQ(geteuid(), 0u) << "this test needs root (chown)";
  ASSERT_EQ(chown(real.c_str(), 4321, 4321), 0);
  r = LoadOperatorConfig(real);
  EXPECT_EQ(r.status().message(),
            real + ": owned by uid 4321, not by you; refusing it");
  ASSERT_EQ(chown(real.c_str(), 0, 0), 0);

  std::string dir = tmp.Join("dir.toml");
  ASSERT_EQ(mkdir(dir.c_str(), 0700), 0);
  EXPECT_EQ(LoadOperatorConfig(dir).status().code(),
            StatusCode::kPermissionDenied);

  std::string fifo = tmp.Join("fifo.toml");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  // Opening a FIFO for reading would block until a writer comes.
  r = LoadOperatorConfig(fifo);
  EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(r.status().message(), fifo + ": not a regular file");
}

TEST(OperatorConfigTest, ParseErrorsNameTheKey) {
  const std::string ca = config::TomlQuote(CaPem());
  const std::pair<std::string, std::string> cases[] = {
      {"server = \"https://h\"\ntoken = \"t\"\n",
       "f.toml: missing key 'ca' (porthole login again)"},
      {"server = \"https://h\"\ntoken = \"t\"\nca = " + ca + "\nextra = 1\n",
       "f.toml:4: key 'extra': unknown key"},
      {"server = \"http://h\"\ntoken = \"t\"\nca = " + ca + "\n",
       "f.toml:1: key 'server': server URL 'http://h': must be https://"},
      {"server = \"https://u:p@h\"\ntoken = \"t\"\nca = " + ca + "\n",
       "f.toml:1: key 'server': server URL 'https://u:p@h': user information "
       "(name@, name:password@) does not belong in a URL here"},
      {"server = \"https://h/?x=1\"\ntoken = \"t\"\nca = " + ca + "\n",
       "f.toml:1: key 'server': server URL 'https://h/?x=1': must not have a "
       "query or fragment"},
      {"server = \"https://h\"\ntoken = \"t\\r\\nX-Evil: 1\"\nca = " + ca +
           "\n",
       "f.toml:2: key 'token': token contains a space, control or non-ASCII "
       "character"},
      {"server = \"https://h\"\ntoken = \"\"\nca = " + ca + "\n",
       "f.toml:2: key 'token': empty token"},
      {"server = \"https://h\"\ntoken = \"t\"\nca = \"not a pem\"\n",
       "f.toml:3: key 'ca': no PEM certificate"},
      {"server = \"https://h\"\ntoken = \"t\"\nca = \"-----BEGIN "
       "CERTIFICATE-----\\n!!!\\n-----END CERTIFICATE-----\\n\"\n",
       "f.toml:3: key 'ca': PEM block 1: bad PEM body: invalid base64 "
       "character"},
      {"server = 1\ntoken = \"t\"\nca = " + ca + "\n",
       "f.toml:1: key 'server': expected a string"},
      {"server = \"https://h\"\nserver = \"https://h\"\n",
       "f.toml:2:10: Error while parsing key-value pair: cannot redefine "
       "existing string 'server'"},
  };
  for (const auto& [text, error] : cases) {
    auto r = ParseOperatorConfig(text, "f.toml");
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(r.status().message(), error) << text;
  }
}

TEST(OperatorConfigTest, ServerUrlNormalised) {
  EXPECT_EQ(*NormalizeServerUrl("https://Porthole.Example.com:8444/"),
            "https://porthole.example.com:8444");
  EXPECT_EQ(*NormalizeServerUrl("https://h/prefix/"), "https://h/prefix");
  EXPECT_EQ(*NormalizeServerUrl("https://[::1]:8444"), "https://[::1]:8444");
  EXPECT_FALSE(NormalizeServerUrl("https://h:99999").ok());
  EXPECT_FALSE(NormalizeServerUrl("h:8444").ok());
  EXPECT_FALSE(NormalizeServerUrl("https://h#frag").ok());
}

TEST(OperatorConfigTest, XdgDirectories) {
  std::string saved_home = std::getenv("HOME") ? std::getenv("HOME") : "";
  setenv("HOME", "/home/alice", 1);
  setenv("XDG_CONFIG_HOME", "/xdg/config", 1);
  setenv("XDG_CACHE_HOME", "relative/ignored", 1);
  EXPECT_EQ(*OperatorConfigPath(), "/xdg/config/porthole/operator.toml");
  EXPECT_EQ(*PortholeCacheDir(), "/home/alice/.cache/porthole");
  unsetenv("XDG_CONFIG_HOME");
  unsetenv("XDG_CACHE_HOME");
  EXPECT_EQ(*PortholeConfigDir(), "/home/alice/.config/porthole");
  setenv("HOME", saved_home.c_str(), 1);
}

TEST(PemTest, Bundles) {
  auto one = SplitPemCertificates(CaPem());
  ASSERT_TRUE(one.ok()) << one.status().message();
  EXPECT_EQ(one->size(), 1u);
  auto two =
      SplitPemCertificates("subject=x\n" + CaPem() + "\n# c\n" + CaPem());
  ASSERT_TRUE(two.ok());
  EXPECT_EQ(two->size(), 2u);
  EXPECT_EQ(SplitPemCertificates("-----BEGIN PRIVATE KEY-----\nAA==\n-----END "
                                 "PRIVATE KEY-----\n")
                .status()
                .message(),
            "PEM block 1 is not a CERTIFICATE");
  EXPECT_EQ(SplitPemCertificates(CaPem().substr(0, 80)).status().message(),
            "PEM block 1 has no END line");
  EXPECT_EQ(SplitPemCertificates("-----BEGIN ").status().message(),
            "truncated PEM header");
}

TEST(PemTest, PinForms) {
  std::string hex(64, 'a');
  EXPECT_EQ(*NormalizeSha256Pin(hex), hex);
  EXPECT_EQ(*NormalizeSha256Pin(std::string(64, 'A')), hex);
  std::string colons;
  for (int i = 0; i < 32; ++i) colons += (i ? ":" : "") + std::string("AB");
  std::string want;
  for (int i = 0; i < 32; ++i) want += "ab";
  EXPECT_EQ(*NormalizeSha256Pin(colons), want);
  EXPECT_EQ(*NormalizeSha256Pin("sha256 Fingerprint=" + colons), want);
  for (std::string bad :
       {std::string(63, 'a'), std::string(65, 'a'), std::string(64, 'g'),
        colons.substr(1), "ab:" + std::string(62, 'a'), std::string("")}) {
    auto r = NormalizeSha256Pin(bad);
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace porthole::cli
