#include "core/keys/authorized_key.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <time.h>

#include <cctype>
#include <chrono>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "core/crypto/digest.h"
#include "core/keys/test_keys.h"

namespace porthole::keys {
namespace {

using std::chrono::seconds;

// "ssh-ed25519 AAAA..." without the comment.
std::string Ed() {
  std::string line = KeyFixtureLine("ed25519.pub");
  return line.substr(0, line.find(' ', 12));
}
std::string EdB64() { return Ed().substr(12); }

SystemTime Utc(int y, int mo, int d, int h = 0, int mi = 0, int s = 0) {
  struct tm tm = {};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  return SystemTime(seconds(timegm(&tm)));
}

// Sets TZ for one test and restores it after.
class ScopedTimeZone {
 public:
  explicit ScopedTimeZone(const char* tz) {
    const char* old = getenv("TZ");
    if (old != nullptr) old_ = old;
    setenv("TZ", tz, 1);
    tzset();
  }
  ~ScopedTimeZone() {
    if (old_.has_value()) {
      setenv("TZ", old_->c_str(), 1);
    } else {
      unsetenv("TZ");
    }
    tzset();
  }

 private:
  std::optional<std::string> old_;
};

using Opt = std::pair<std::string, std::optional<std::string>>;

std::vector<Opt> Names(const std::vector<KeyOption>& options) {
  std::vector<Opt> out;
  for (const KeyOption& o : options) out.emplace_back(o.name, o.value);
  return out;
}

void ExpectRoundTrip(const AuthorizedKey& k, const std::string& context) {
  std::string text = FormatAuthorizedKey(k);
  Result<AuthorizedKey> back = ParseAuthorizedKey(text);
  ASSERT_TRUE(back.ok()) << context << "\nformatted: " << text << "\n"
                         << back.status().message();
  EXPECT_EQ(back->options, k.options) << context << "\nformatted: " << text;
  EXPECT_EQ(back->key.blob, k.key.blob) << context;
  EXPECT_EQ(back->comment, k.comment) << context;
  // Formatting is stable: a second pass writes the same text.
  EXPECT_EQ(FormatAuthorizedKey(*back), text) << context;
}

// --- Every fixture key, bare and with options, parses and round-trips. ---

class AuthorizedKeyFixtureTest : public testing::TestWithParam<std::string> {};

INSTANTIATE_TEST_SUITE_P(
    AuthorizedKeyFixtures, AuthorizedKeyFixtureTest,
    testing::Values("ed25519.pub", "ecdsa256.pub", "ecdsa384.pub",
                    "ecdsa521.pub", "rsa2048.pub", "rsa1024.pub", "rsa3072.pub",
                    "dsa.pub", "sk-ed25519.pub", "sk-ecdsa.pub",
                    "ca_ed25519.pub", "ed25519-cert.pub", "rsa2048-cert.pub",
                    "ecdsa384-cert.pub", "sk-ed25519-cert.pub",
                    "sk-ecdsa-cert.pub", "dsa-cert.pub"),
    [](const testing::TestParamInfo<std::string>& param_info) {
      std::string n;
      for (char c : param_info.param) {
        n.push_back(isalnum(static_cast<unsigned char>(c)) ? c : '_');
      }
      return n;
    });

TEST_P(AuthorizedKeyFixtureTest, BareLineRoundTrips) {
  std::string line = KeyFixtureLine(GetParam());
  Result<AuthorizedKey> k = ParseAuthorizedKey(line);
  ASSERT_TRUE(k.ok()) << k.status().message();
  EXPECT_TRUE(k->options.empty());
  std::string comment;
  Result<PublicKey> pk = ParsePublicKeyLine(line, &comment);
  ASSERT_TRUE(pk.ok());
  EXPECT_EQ(k->key, *pk);
  EXPECT_EQ(k->comment, comment);
  ExpectRoundTrip(*k, line);
}

TEST_P(AuthorizedKeyFixtureTest, OptionHeavyLineRoundTrips) {
  std::string line =
      "restrict,pty,command=\"/usr/bin/fleet-config --mode \\\"repair\\\", "
      "now\",from=\"10.0.0.0/8,!10.1.0.0/16\",expiry-time=\"209912312359Z\","
      "environment=\"LANG=C\",permitopen=\"[::1]:22\","
      "permitlisten=\"127.0.0.1:*\",tunnel=\"any\"\t" +
      KeyFixtureLine(GetParam());
  Result<AuthorizedKey> k = ParseAuthorizedKey(line);
  ASSERT_TRUE(k.ok()) << k.status().message();
  ASSERT_EQ(k->options.size(), 9u);
  EXPECT_EQ(k->options[2].value,
            "/usr/bin/fleet-config --mode \"repair\", now");
  ExpectRoundTrip(*k, line);
}

// --- Lines that are valid, and exactly what they hold. ---

struct ValidLine {
  std::string label;
  std::string line;
  std::vector<Opt> options;
  std::string comment;
};

void PrintTo(const ValidLine& v, std::ostream* os) { *os << v.label; }

class AuthorizedKeyValidTest : public testing::TestWithParam<ValidLine> {};

std::vector<ValidLine> ValidLines() {
  const std::string k = Ed();
  return {
      {"bare", k, {}, ""},
      {"bare_comment", k + " alice@example.org", {}, "alice@example.org"},
      {"comment_looks_like_options",
       k + " command=\"x\",no-pty",
       {},
       "command=\"x\",no-pty"},
      {"leading_whitespace", " \t " + k + " c", {}, "c"},
      {"tabs_as_separators",
       "no-pty\t\tssh-ed25519\t" + EdB64() + "\tc  d",
       {{"no-pty", std::nullopt}},
       "c  d"},
      {"cr_at_end",
       "restrict " + k + " c \r",
       {{"restrict", std::nullopt}},
       "c"},
      {"cr_at_end_no_comment", k + "\r", {}, ""},
      {"jaiabot_repair_shop",
       "restrict,pty,command=\"/usr/share/fleet/fleet-config.sh\" " + k +
           " repair@shop1",
       {{"restrict", std::nullopt},
        {"pty", std::nullopt},
        {"command", "/usr/share/fleet/fleet-config.sh"}},
       "repair@shop1"},
      {"quoted_space",
       "command=\"/usr/bin/foo --bar\" " + k,
       {{"command", "/usr/bin/foo --bar"}},
       ""},
      {"quoted_comma",
       "command=\"echo a,b\",no-pty " + k,
       {{"command", "echo a,b"}, {"no-pty", std::nullopt}},
       ""},
      {"escaped_quotes",
       "command=\"echo \\\"hi there\\\"\" " + k,
       {{"command", "echo \"hi there\""}},
       ""},
      {"other_backslashes_literal",
       "command=\"printf a\\\\nb\\\\\\\"\" " + k,
       {{"command", "printf a\\\\nb\\\\\""}},
       ""},
      {"empty_command", "command=\"\" " + k, {{"command", ""}}, ""},
      {"case_insensitive_names",
       "COMMAND=\"x\",No-Pty,RESTRICT " + k,
       {{"command", "x"}, {"no-pty", std::nullopt}, {"restrict", std::nullopt}},
       ""},
      {"every_flag",
       "restrict,cert-authority,port-forwarding,no-port-forwarding,"
       "agent-forwarding,no-agent-forwarding,x11-forwarding,"
       "no-x11-forwarding,touch-required,no-touch-required,verify-required,"
       "no-verify-required,pty,no-pty,user-rc,no-user-rc " +
           k,
       {{"restrict", std::nullopt},
        {"cert-authority", std::nullopt},
        {"port-forwarding", std::nullopt},
        {"no-port-forwarding", std::nullopt},
        {"agent-forwarding", std::nullopt},
        {"no-agent-forwarding", std::nullopt},
        {"x11-forwarding", std::nullopt},
        {"no-x11-forwarding", std::nullopt},
        {"touch-required", std::nullopt},
        {"no-touch-required", std::nullopt},
        {"verify-required", std::nullopt},
        {"no-verify-required", std::nullopt},
        {"pty", std::nullopt},
        {"no-pty", std::nullopt},
        {"user-rc", std::nullopt},
        {"no-user-rc", std::nullopt}},
       ""},
      // sshd 9.2 accepts empty options (checked against a real sshd): the
      // comma loop skips them and a trailing comma is followed by a space.
      {"leading_comma", ",restrict " + k, {{"restrict", std::nullopt}}, ""},
      {"trailing_comma", "restrict, " + k, {{"restrict", std::nullopt}}, ""},
      {"double_comma",
       "restrict,,pty " + k,
       {{"restrict", std::nullopt}, {"pty", std::nullopt}},
       ""},
      {"two_expiry_times",
       "expiry-time=\"20991231\",expiry-time=\"209001010000Z\" " + k,
       {{"expiry-time", "20991231"}, {"expiry-time", "209001010000Z"}},
       ""},
      {"repeated_environment_name",
       "environment=\"A=1\",environment=\"A=2\",environment=\"_b9=x=y\" " + k,
       {{"environment", "A=1"},
        {"environment", "A=2"},
        {"environment", "_b9=x=y"}},
       ""},
      {"environment_digit_first",
       "environment=\"1A=\" " + k,
       {{"environment", "1A="}},
       ""},
      {"repeated_tunnel",
       "tunnel=\"1\",tunnel=\"any\",tunnel=\"ANY\" " + k,
       {{"tunnel", "1"}, {"tunnel", "any"}, {"tunnel", "ANY"}},
       ""},
      {"permitopen_forms",
       "permitopen=\"127.0.0.1:9999\",permitopen=\"[::1]:22\","
       "permitopen=\"*:*\",permitopen=\"host/22\",permitopen=\":22\","
       "permitopen=\"h:65535\" " +
           k,
       {{"permitopen", "127.0.0.1:9999"},
        {"permitopen", "[::1]:22"},
        {"permitopen", "*:*"},
        {"permitopen", "host/22"},
        {"permitopen", ":22"},
        {"permitopen", "h:65535"}},
       ""},
      {"permitlisten_forms",
       "permitlisten=\"8080\",permitlisten=\"*\",permitlisten=\"127.0.0.1:*\","
       "permitlisten=\"localhost:40001\",permitlisten=\"[::1]:22\" " +
           k,
       {{"permitlisten", "8080"},
        {"permitlisten", "*"},
        {"permitlisten", "127.0.0.1:*"},
        {"permitlisten", "localhost:40001"},
        {"permitlisten", "[::1]:22"}},
       ""},
      {"signature_algorithm_as_type",
       "no-pty rsa-sha2-512" + KeyFixtureLine("rsa2048.pub").substr(7),
       {{"no-pty", std::nullopt}},
       "Bob Example <bob@example.org>"},
      {"principals_and_from_once",
       "cert-authority,principals=\"alice,bob\",from=\"*.example.org\" " +
           KeyFixtureLine("ca_ed25519.pub"),
       {{"cert-authority", std::nullopt},
        {"principals", "alice,bob"},
        {"from", "*.example.org"}},
       "ca-ed25519"},
  };
}

INSTANTIATE_TEST_SUITE_P(AuthorizedKeyGrammar, AuthorizedKeyValidTest,
                         testing::ValuesIn(ValidLines()),
                         [](const testing::TestParamInfo<ValidLine>& p) {
                           return p.param.label;
                         });

TEST_P(AuthorizedKeyValidTest, ParsesAndRoundTrips) {
  const ValidLine& v = GetParam();
  Result<AuthorizedKey> k = ParseAuthorizedKey(v.line);
  ASSERT_TRUE(k.ok()) << k.status().message();
  EXPECT_EQ(Names(k->options), v.options);
  EXPECT_EQ(k->comment, v.comment);
  ExpectRoundTrip(*k, v.line);
}

// --- Hostile lines: rejected, with the reason. ---

struct BadLine {
  std::string label;
  std::string line;
  std::string message;
};

void PrintTo(const BadLine& b, std::ostream* os) { *os << b.label; }

class AuthorizedKeyErrorTest : public testing::TestWithParam<BadLine> {};

std::string Blob(const std::string& file) {
  std::string line = KeyFixtureLine(file);
  size_t b = line.find(' ') + 1;
  return *crypto::Base64Decode(line.substr(b, line.find(' ', b) - b));
}

std::vector<BadLine> BadLines() {
  const std::string k = Ed();
  const std::string b64 = EdB64();
  std::string ec_blob = Blob("ecdsa256.pub");
  ec_blob.back() = static_cast<char>(ec_blob.back() ^ 1);
  std::string cert_blob = Blob("ed25519-cert.pub");
  std::string ca_blob = Blob("ca_ed25519.pub");
  size_t at = cert_blob.find(ca_blob);
  if (at != std::string::npos) cert_blob[at + 4] = 'X';
  // A 768-bit RSA key: e = 65537, n = 0x80..01.
  std::string n(96, '\0');
  n[0] = '\x80';
  n.back() = 1;
  auto str = [](const std::string& s) {
    std::string len(4, '\0');
    len[2] = static_cast<char>(s.size() >> 8);
    len[3] = static_cast<char>(s.size());
    return len + s;
  };
  std::string small_rsa = str("ssh-rsa") + str(std::string("\x01\x00\x01", 3)) +
                          str(std::string(1, '\0') + n);
  std::string huge = k + " " + std::string(kMaxAuthorizedKeyLine, 'c');

  return {
      // Structure.
      {"blank", " \t\r", "blank line"},
      {"empty", "", "blank line"},
      {"comment", "# " + k, "comment line"},
      {"huge_line", huge, "line too long"},
      {"nul", k + std::string(" a\0b", 4), "NUL character in line"},
      {"options_only", "restrict", "missing key after options"},
      {"options_then_blank", "restrict,pty \t ", "missing key after options"},
      {"empty_type", " " + b64 + " c",
       "unknown key type '" + b64.substr(0, 64) + "...'"},
      {"unknown_type", "ssh-ed448 " + b64 + " c",
       "unknown key type 'ssh-ed448'"},
      {"unknown_type_after_options", "restrict ssh-ed448 " + b64,
       "unknown key type 'ssh-ed448'"},
      {"type_only", "ssh-ed25519", "missing key data after type"},
      // Options syntax.
      {"unknown_option", "foo " + k, "unknown option 'foo'"},
      {"unknown_option_in_list", "restrict,foo=\"1\" " + k,
       "unknown option 'foo'"},
      {"no_restrict", "no-restrict " + k, "unknown option 'no-restrict'"},
      {"no_cert_authority", "no-cert-authority " + k,
       "unknown option 'no-cert-authority'"},
      {"flag_prefix", "ptyx " + k, "unknown option 'ptyx'"},
      {"flag_with_value", "pty=\"yes\" " + k, "option 'pty' takes no value"},
      {"valued_without_value", "command " + k,
       "option 'command' needs a quoted value"},
      {"unquoted_value", "command=ls " + k,
       "option 'command' needs a quoted value"},
      {"space_before_quote", "command= \"ls\" " + k,
       "option 'command' needs a quoted value"},
      {"unbalanced_quote", "command=\"ls " + k,
       "unterminated quote in options"},
      {"escaped_closing_quote", "command=\"C:\\\" " + k,
       "unterminated quote in options"},
      {"junk_after_value", "command=\"ls\"x " + k,
       "unexpected characters after option 'command'"},
      {"duplicate_command", "command=\"a\",no-pty,command=\"a\" " + k,
       "multiple \"command\" clauses"},
      {"duplicate_command_case", "command=\"a\",COMMAND=\"b\" " + k,
       "multiple \"command\" clauses"},
      {"duplicate_principals", "principals=\"a\",principals=\"b\" " + k,
       "multiple \"principals\" clauses"},
      {"duplicate_from", "from=\"a\",from=\"b\" " + k,
       "multiple \"from\" clauses"},
      {"principals_empty", "principals=\"\" " + k,
       "option 'principals' must not be empty"},
      {"from_empty", "from=\"\" " + k, "option 'from' must not be empty"},
      // expiry-time.
      {"expiry_iso_date", "expiry-time=\"2099-12-31\" " + k,
       "invalid expiry-time \"2099-12-31\""},
      {"expiry_month_13", "expiry-time=\"20991301\" " + k,
       "invalid expiry-time \"20991301\""},
      {"expiry_minute_60", "expiry-time=\"209912312360\" " + k,
       "invalid expiry-time \"209912312360\""},
      {"expiry_trailing_junk", "expiry-time=\"209912312359Zx\" " + k,
       "invalid expiry-time \"209912312359Zx\""},
      // environment.
      {"environment_no_equals", "environment=\"A\" " + k,
       "invalid environment \"A\""},
      {"environment_empty_name", "environment=\"=b\" " + k,
       "invalid environment \"=b\""},
      {"environment_dash", "environment=\"A-B=1\" " + k,
       "invalid environment \"A-B=1\""},
      {"environment_space", "environment=\"A B=1\" " + k,
       "invalid environment \"A B=1\""},
      // permitopen / permitlisten.
      {"permitopen_none", "permitopen=\"none\" " + k,
       "invalid permitopen \"none\""},
      {"permitopen_port_0", "permitopen=\"h:0\" " + k,
       "invalid permitopen \"h:0\""},
      {"permitlisten_none", "permitlisten=\"none\" " + k,
       "invalid permitlisten \"none\""},
      {"permitlisten_port_0", "permitlisten=\"0\" " + k,
       "invalid permitlisten \"0\""},
      // tunnel.
      {"tunnel_word", "tunnel=\"blah\" " + k, "invalid tunnel \"blah\""},
      {"tunnel_negative", "tunnel=\"-1\" " + k, "invalid tunnel \"-1\""},
      // The key.
      {"bad_base64_char",
       "restrict ssh-ed25519 " + b64.substr(0, 20) + "*" + b64.substr(21),
       "bad base64 in key: invalid base64 character"},
      {"bad_base64_padding", k + "=", "bad base64 in key: bad base64 padding"},
      {"bad_base64_truncated",
       "ssh-ed25519 " + b64.substr(0, b64.size() - 2) + " c",
       "bad base64 in key: missing base64 padding"},
      {"truncated_blob", "ssh-ed25519 " + b64.substr(0, b64.size() - 8),
       "truncated key blob"},
      {"blob_trailing_garbage",
       "ssh-ed25519 " + crypto::Base64Encode(Blob("ed25519.pub") + "junk"),
       "trailing bytes after key blob"},
      {"type_mismatch", "ssh-rsa " + b64 + " c",
       "key type mismatch: line says ssh-rsa, key is ssh-ed25519"},
      {"type_mismatch_after_options", "no-pty ecdsa-sha2-nistp256 " + b64,
       "key type mismatch: line says ecdsa-sha2-nistp256, key is ssh-ed25519"},
      {"cert_corrupt_signature_key",
       "ssh-ed25519-cert-v01@openssh.com " + crypto::Base64Encode(cert_blob),
       "bad certificate signature key: unknown key type 'Xsh-ed25519'"},
      {"rsa_too_small", "ssh-rsa " + crypto::Base64Encode(small_rsa),
       "RSA modulus too small (768 bits)"},
      {"ecdsa_not_on_curve",
       "ecdsa-sha2-nistp256 " + crypto::Base64Encode(ec_blob),
       "invalid EC point"},
  };
}

INSTANTIATE_TEST_SUITE_P(AuthorizedKeyHostile, AuthorizedKeyErrorTest,
                         testing::ValuesIn(BadLines()),
                         [](const testing::TestParamInfo<BadLine>& p) {
                           return p.param.label;
                         });

TEST_P(AuthorizedKeyErrorTest, Rejected) {
  Result<AuthorizedKey> k = ParseAuthorizedKey(GetParam().line);
  ASSERT_FALSE(k.ok());
  EXPECT_EQ(k.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(k.status().message(), GetParam().message);
}

TEST(AuthorizedKeyTest, LineAtTheLengthLimitParses) {
  std::string line = Ed() + " ";
  line += std::string(kMaxAuthorizedKeyLine - line.size(), 'c');
  Result<AuthorizedKey> k = ParseAuthorizedKey(line);
  ASSERT_TRUE(k.ok()) << k.status().message();
  EXPECT_EQ(k->comment.size(), kMaxAuthorizedKeyLine - Ed().size() - 1);
}

TEST(AuthorizedKeyTest, FindOptionAndExpiry) {
  Result<AuthorizedKey> k = ParseAuthorizedKey(
      "No-Pty,expiry-time=\"209912312359Z\",expiry-time=\"20900101000000UTC\","
      "command=\"x\" " +
      Ed());
  ASSERT_TRUE(k.ok()) << k.status().message();
  EXPECT_TRUE(k->HasOption("no-pty"));
  EXPECT_TRUE(k->HasOption("NO-PTY"));
  EXPECT_FALSE(k->HasOption("pty"));
  ASSERT_NE(k->FindOption("command"), nullptr);
  EXPECT_EQ(k->FindOption("command")->value, "x");
  EXPECT_EQ(k->FindOption("no-pty")->raw, "No-Pty");
  ASSERT_TRUE(k->Expiry().has_value());
  EXPECT_EQ(*k->Expiry(), Utc(2090, 1, 1));

  Result<AuthorizedKey> none = ParseAuthorizedKey(Ed());
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->Expiry().has_value());
}

TEST(AuthorizedKeyTest, RawIsWrittenBackUnlessStale) {
  Result<AuthorizedKey> k =
      ParseAuthorizedKey("COMMAND=\"a b\",No-Pty " + Ed() + " c");
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(FormatAuthorizedKey(*k), "COMMAND=\"a b\",No-Pty " + Ed() + " c");
  // Changing the value without clearing raw must not write the old text.
  k->options[0].value = "say \"hi\"";
  EXPECT_EQ(FormatAuthorizedKey(*k),
            "command=\"say \\\"hi\\\"\",No-Pty " + Ed() + " c");
  ExpectRoundTrip(*k, "stale raw");
}

// --- Options built in code. ---

TEST(KeyOptionTest, MakeAndFormat) {
  SystemTime expiry = Utc(2031, 2, 3, 4, 5, 59);
  Result<KeyOption> e = MakeKeyOption("expiry-time", FormatExpiryTime(expiry));
  ASSERT_TRUE(e.ok()) << e.status().message();
  Result<KeyOption> c =
      MakeKeyOption("Command", std::string("echo \"a\\\"b\" c\\d"));
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->name, "command");
  Result<KeyOption> r = MakeKeyOption("restrict");
  ASSERT_TRUE(r.ok());
  Result<KeyOption> np = MakeKeyOption("no-pty");
  ASSERT_TRUE(np.ok());

  AuthorizedKey k;
  k.options = {*r, *np, *c, *e};
  k.key = *ParsePublicKeyLine(Ed());
  k.comment = "built in code";
  EXPECT_EQ(FormatKeyOptions(k.options),
            "restrict,no-pty,command=\"echo \\\"a\\\\\"b\\\" c\\d\","
            "expiry-time=\"203102030405Z\"");
  ExpectRoundTrip(k, "built in code");
  EXPECT_EQ(ParseAuthorizedKey(FormatAuthorizedKey(k))->Expiry(),
            Utc(2031, 2, 3, 4, 5));
}

struct MakeError {
  std::string name;
  std::optional<std::string> value;
  std::string message;
};

TEST(KeyOptionTest, MakeRejects) {
  const MakeError kCases[] = {
      {"bogus", std::nullopt, "unknown option 'bogus'"},
      {"no-restrict", std::nullopt, "unknown option 'no-restrict'"},
      {"pty", "x", "option 'pty' takes no value"},
      {"command", std::nullopt, "option 'command' needs a quoted value"},
      {"command", "C:\\dir\\",
       "option 'command' value cannot be written: "
       "\"C:\\dir\\\""},
      {"command", "a\nb",
       "option 'command' value cannot be written: "
       "\"a\\x0ab\""},
      {"expiry-time", "tomorrow", "invalid expiry-time \"tomorrow\""},
      {"permitopen", "none", "invalid permitopen \"none\""},
      {"principals", "", "option 'principals' must not be empty"},
  };
  for (const MakeError& m : kCases) {
    Result<KeyOption> r = MakeKeyOption(m.name, m.value);
    ASSERT_FALSE(r.ok()) << m.name;
    EXPECT_EQ(r.status().message(), m.message);
  }
}

TEST(KeyOptionTest, OptionValueWritable) {
  EXPECT_TRUE(OptionValueWritable(""));
  EXPECT_TRUE(OptionValueWritable("a \"quoted\" value, with commas"));
  EXPECT_TRUE(OptionValueWritable("back\\slash"));
  EXPECT_TRUE(OptionValueWritable("\\\"backslash before quote"));
  EXPECT_FALSE(OptionValueWritable("ends in backslash\\"));
  EXPECT_FALSE(OptionValueWritable("line\nbreak"));
  EXPECT_FALSE(OptionValueWritable("cr\r"));
  EXPECT_FALSE(OptionValueWritable(std::string("n\0l", 3)));
}

// Every writable value survives format -> parse, including runs of
// backslashes and quotes in every position.
TEST(KeyOptionTest, WritableValuesRoundTrip) {
  const std::string alphabet = "a\\\" ,=";
  std::vector<std::string> values = {""};
  for (int len = 1; len <= 5; ++len) {
    std::vector<std::string> next;
    for (const std::string& v : values) {
      for (char c : alphabet) next.push_back(v + c);
    }
    values.insert(values.end(), next.begin(), next.end());
  }
  int checked = 0;
  for (const std::string& v : values) {
    if (!OptionValueWritable(v)) continue;
    KeyOption opt{"command", v, ""};
    std::string text = FormatKeyOptions({opt});
    Result<std::vector<KeyOption>> back = ParseKeyOptions(text);
    ASSERT_TRUE(back.ok()) << text << ": " << back.status().message();
    ASSERT_EQ(back->size(), 1u) << text;
    EXPECT_EQ(back->front().value, v) << text;
    ++checked;
  }
  EXPECT_GT(checked, 1000);
}

TEST(KeyOptionTest, ParseKeyOptionsField) {
  Result<std::vector<KeyOption>> empty = ParseKeyOptions("");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());

  Result<std::vector<KeyOption>> two =
      ParseKeyOptions("restrict,command=\"a b\",");
  ASSERT_TRUE(two.ok()) << two.status().message();
  EXPECT_EQ(Names(*two),
            (std::vector<Opt>{{"restrict", std::nullopt}, {"command", "a b"}}));
  EXPECT_EQ((*two)[1].raw, "command=\"a b\"");

  EXPECT_EQ(ParseKeyOptions("restrict pty").status().message(),
            "unquoted whitespace in options");
  EXPECT_EQ(ParseKeyOptions("command=\"x").status().message(),
            "unterminated quote in options");
}

// --- permitopen / permitlisten / tunnel / environment values. ---

struct ValueCase {
  std::string option;
  std::string value;
  bool valid;
};

void PrintTo(const ValueCase& v, std::ostream* os) {
  *os << v.option << "=\"" << v.value << "\"";
}

class OptionValueTest : public testing::TestWithParam<ValueCase> {};

INSTANTIATE_TEST_SUITE_P(
    OptionValuesSshd92, OptionValueTest,
    testing::Values(
        ValueCase{"permitopen", "127.0.0.1:9999", true},
        ValueCase{"permitopen", "host.example.org:1", true},
        ValueCase{"permitopen", "[2001:db8::1]:443", true},
        ValueCase{"permitopen", "*:*", true},
        ValueCase{"permitopen", "host:*", true},
        ValueCase{"permitopen", "host/22", true},
        ValueCase{"permitopen", "host:+22", true},  // strtonum allows a sign
        ValueCase{"permitopen", "host:022", true},
        ValueCase{"permitopen", "none", false},
        ValueCase{"permitopen", "host", false},
        ValueCase{"permitopen", "host:", false},
        ValueCase{"permitopen", "host:0", false},
        ValueCase{"permitopen", "host:65536", false},
        ValueCase{"permitopen", "host:nosuchservice", false},
        ValueCase{"permitopen", "host:22:23", false},
        ValueCase{"permitopen", "host:22 ", false},
        ValueCase{"permitopen", "host:0x16", false},
        ValueCase{"permitopen", "::1:22", false},
        ValueCase{"permitopen", "[::1]", false},
        ValueCase{"permitopen", "[::1", false},
        ValueCase{"permitopen", "[::1]x:22", false},
        ValueCase{"permitopen", "", false},
        ValueCase{"permitopen", std::string(1024, 'h') + ":22", true},
        ValueCase{"permitopen", std::string(1025, 'h') + ":22", false},
        ValueCase{"permitlisten", "8080", true},
        ValueCase{"permitlisten", "*", true},
        ValueCase{"permitlisten", "127.0.0.1:*", true},
        ValueCase{"permitlisten", "localhost:40001", true},
        ValueCase{"permitlisten", "[::1]:22", true},
        ValueCase{"permitlisten", "none", false},
        ValueCase{"permitlisten", "0", false},
        ValueCase{"permitlisten", "*:0", false},
        ValueCase{"permitlisten", "99999", false},
        ValueCase{"permitlisten", "host:", false},
        ValueCase{"permitlisten", "", false}, ValueCase{"tunnel", "0", true},
        ValueCase{"tunnel", "any", true}, ValueCase{"tunnel", "Any", true},
        ValueCase{"tunnel", "2147483645", true},
        ValueCase{"tunnel", "2147483646", false},
        ValueCase{"tunnel", "-1", false}, ValueCase{"tunnel", "1.5", false},
        ValueCase{"tunnel", "", false}, ValueCase{"tunnel", "blah", false},
        ValueCase{"environment", "LANG=C", true},
        ValueCase{"environment", "A=", true},
        ValueCase{"environment", "A==", true},
        ValueCase{"environment", "=x", false},
        ValueCase{"environment", "", false},
        ValueCase{"environment", "A.B=1", false},
        ValueCase{"environment", "\xc3\xa9=1", false},
        ValueCase{"principals", "alice", true},
        ValueCase{"principals", "", false},
        ValueCase{"from", "10.0.0.0/8", true}, ValueCase{"from", "", false},
        ValueCase{"command", "", true}));

TEST_P(OptionValueTest, ValidatedLikeSshd) {
  const ValueCase& v = GetParam();
  std::string line = v.option + "=\"" + v.value + "\" " + Ed();
  Result<AuthorizedKey> k = ParseAuthorizedKey(line);
  EXPECT_EQ(k.ok(), v.valid) << k.status().message();
  bool printable =
      v.value.find_first_not_of(
          " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRST"
          "UVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~") == std::string::npos;
  if (!v.valid && printable && v.option != "principals" && v.option != "from") {
    EXPECT_EQ(k.status().message(), "invalid " + v.option + " \"" +
                                        v.value.substr(0, 64) +
                                        (v.value.size() > 64 ? "...\"" : "\""));
  }
}

TEST(OptionValueTest, ServiceNamePortsFollowTheSystem) {
  // sshd's a2port() falls back to getservbyname(); only check it when the
  // system has an /etc/services entry for ssh.
  std::ifstream services("/etc/services");
  std::string text((std::istreambuf_iterator<char>(services)),
                   std::istreambuf_iterator<char>());
  if (text.find("\nssh\t") == std::string::npos) {
    GTEST_SKIP() << "no ssh entry in /etc/services";
  }
  EXPECT_TRUE(ParseAuthorizedKey("permitopen=\"h:ssh\" " + Ed()).ok());
  EXPECT_TRUE(ParseAuthorizedKey("permitlisten=\"ssh\" " + Ed()).ok());
}

TEST(OptionLimitsTest, DuplicatesAndCounts) {
  std::string many;
  for (int i = 0; i < 4097; ++i) {
    many += "permitopen=\"h:" + std::to_string(i % 65535 + 1) + "\",";
  }
  EXPECT_TRUE(ParseAuthorizedKey(many + " " + Ed()).ok());
  EXPECT_EQ(ParseAuthorizedKey(many + "permitopen=\"h:1\" " + Ed())
                .status()
                .message(),
            "too many permitopen options");

  std::string env;
  for (int i = 0; i < 1025; ++i) {
    env += "environment=\"V" + std::to_string(i) + "=x\",";
  }
  EXPECT_TRUE(ParseAuthorizedKey(env + " " + Ed()).ok());
  EXPECT_EQ(ParseAuthorizedKey(env + "environment=\"V0=y\" " + Ed())
                .status()
                .message(),
            "too many environment options");
}

// --- expiry-time ---

struct ExpiryCase {
  std::string text;
  SystemTime want;
};

TEST(ExpiryTimeTest, AcceptedForms) {
  const ExpiryCase kCases[] = {
      {"20991231Z", Utc(2099, 12, 31)},
      {"209912312359Z", Utc(2099, 12, 31, 23, 59)},
      {"20991231235959Z", Utc(2099, 12, 31, 23, 59, 59)},
      {"20991231235959UTC", Utc(2099, 12, 31, 23, 59, 59)},
      {"20991231235959utc", Utc(2099, 12, 31, 23, 59, 59)},
      {"209912312359z", Utc(2099, 12, 31, 23, 59)},
      {"19700101000001Z", Utc(1970, 1, 1, 0, 0, 1)},
      // strptime and timegm as sshd uses them: day 1..31 in any month,
      // seconds up to 61, and a blank before a one-digit field.
      {"20990231Z", Utc(2099, 3, 3)},
      {"20991231235961Z", Utc(2100, 1, 1, 0, 0, 1)},
      {"209912 1Z", Utc(2099, 12, 1)},
  };
  for (const ExpiryCase& c : kCases) {
    Result<SystemTime> t = ParseExpiryTime(c.text);
    ASSERT_TRUE(t.ok()) << c.text << ": " << t.status().message();
    EXPECT_EQ(*t, c.want) << c.text;
  }
}

TEST(ExpiryTimeTest, WithoutSuffixIsLocalTime) {
  ScopedTimeZone tz("EST5");  // UTC-5, no daylight saving
  EXPECT_EQ(*ParseExpiryTime("20991231"), Utc(2099, 12, 31, 5));
  EXPECT_EQ(*ParseExpiryTime("209912312359"), Utc(2100, 1, 1, 4, 59));
  EXPECT_EQ(*ParseExpiryTime("20991231235959"), Utc(2100, 1, 1, 4, 59, 59));
  EXPECT_EQ(*ParseExpiryTime("20991231Z"), Utc(2099, 12, 31));
}

TEST(ExpiryTimeTest, RejectedForms) {
  for (const char* text : {"",
                           "Z",
                           "UTC",
                           "2099-12-31",
                           "20991301",
                           "20990001",
                           "20991200",
                           "209912312360",
                           "209912312460",
                           "20991231235962",
                           "2099123",
                           "209912311",
                           "2099123123",
                           "20991231235",
                           "209912312359591",
                           "20991231x",
                           "209912312359Zx",
                           "209912312359 ",
                           " 209912312359",
                           "2099123a",
                           "20991231ZZ",
                           "20991231UTCZ",
                           "+2099123",
                           "19700101000000Z",
                           "19691231Z",
                           "00000101Z",
                           "2099 1231"}) {
    Result<SystemTime> t = ParseExpiryTime(text);
    ASSERT_FALSE(t.ok()) << "accepted \"" << text << "\"";
    EXPECT_EQ(t.status().message(),
              std::string("invalid expiry-time \"") + text + "\"");
  }
}

TEST(ExpiryTimeTest, FarFutureIsClampedNotOverflowed) {
  Result<SystemTime> t = ParseExpiryTime("99991231235959Z");
  ASSERT_TRUE(t.ok());
  EXPECT_GT(*t, Utc(2262, 1, 1));
  EXPECT_LE(*t, SystemTime::max());
}

TEST(ExpiryTimeTest, FormatIsMinutePrecisionUtc) {
  EXPECT_EQ(FormatExpiryTime(Utc(2099, 12, 31, 23, 59, 59)), "209912312359Z");
  EXPECT_EQ(FormatExpiryTime(Utc(2031, 2, 3, 4, 5)), "203102030405Z");
  SystemTime t = Utc(2030, 6, 15, 12, 30) + std::chrono::milliseconds(999);
  EXPECT_EQ(FormatExpiryTime(t), "203006151230Z");
  EXPECT_EQ(*ParseExpiryTime(FormatExpiryTime(t)), Utc(2030, 6, 15, 12, 30));
}

}  // namespace
}  // namespace porthole::keys
