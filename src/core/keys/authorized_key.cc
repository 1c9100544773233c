#include "core/keys/authorized_key.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <strings.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <set>
#include <string>
#include <utility>

#include "core/crypto/digest.h"
#include "core/keys/text.h"

namespace porthole::keys {
namespace {

using text::IsBlank;
using text::Printable;

enum class OptionKind {
  kFlag,           // restrict, cert-authority
  kNegatableFlag,  // pty, no-pty, ...
  kValued,         // command="..."
};

struct OptionSpec {
  std::string_view name;
  OptionKind kind;
};

constexpr OptionSpec kOptionSpecs[] = {
    {"restrict", OptionKind::kFlag},
    {"cert-authority", OptionKind::kFlag},
    {"port-forwarding", OptionKind::kNegatableFlag},
    {"agent-forwarding", OptionKind::kNegatableFlag},
    {"x11-forwarding", OptionKind::kNegatableFlag},
    {"touch-required", OptionKind::kNegatableFlag},
    {"verify-required", OptionKind::kNegatableFlag},
    {"pty", OptionKind::kNegatableFlag},
    {"user-rc", OptionKind::kNegatableFlag},
    {"command", OptionKind::kValued},
    {"principals", OptionKind::kValued},
    {"from", OptionKind::kValued},
    {"expiry-time", OptionKind::kValued},
    {"environment", OptionKind::kValued},
    {"permitopen", OptionKind::kValued},
    {"permitlisten", OptionKind::kValued},
    {"tunnel", OptionKind::kValued},
};

// sshd's limits (auth-options.h and misc.h).
constexpr size_t kMaxEnvironment = 1024;
constexpr size_t kMaxPermits = 4096;
constexpr long long kMaxTunnel = 0x7fffffff - 2;
constexpr size_t kMaxHostLength = 1025;  // NI_MAXHOST

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

Status InvalidValue(std::string_view option, std::string_view value) {
  return Status::InvalidArgument("invalid " + std::string(option) + " \"" +
                                 Printable(value) + "\"");
}

// sshd reads numbers with strtonum(3): leading whitespace and a sign are
// allowed, nothing may follow the digits.
bool StrToNum(std::string_view text, long long min, long long max,
              long long* out) {
  std::string s(text);
  if (s.empty()) return false;
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (end == s.c_str() || *end != '\0' || errno == ERANGE) return false;
  if (v < min || v > max) return false;
  *out = v;
  return true;
}

// sshd's a2port(): a number 0..65535 or a TCP service name; -1 if neither.
int PortNumber(std::string_view text) {
  long long port = 0;
  if (StrToNum(text, 0, 65535, &port)) return static_cast<int>(port);
  std::string name(text);
  struct servent ent;
  struct servent* found = nullptr;
  char buf[1024];
  if (getservbyname_r(name.c_str(), "tcp", &ent, buf, sizeof(buf), &found) ==
          0 &&
      found != nullptr) {
    return ntohs(static_cast<uint16_t>(found->s_port));
  }
  return -1;
}

// permitopen / permitlisten as sshd's handle_permit() checks them: a host
// ("[v6addr]" or text up to the first ':' or '/'), that delimiter, and a
// port that is '*' or a positive port number or service name.
bool ValidPermit(std::string_view value, bool allow_bare_port) {
  std::string text(value);
  // A bare port in permitlisten means any listen address.
  if (allow_bare_port && text.find(':') == std::string::npos) {
    text = "*:" + text;
  }
  size_t delim = 0;
  if (!text.empty() && text[0] == '[') {
    size_t close = text.find(']');
    if (close == std::string::npos) return false;
    delim = close + 1;
  } else {
    delim = text.find_first_of(":/");
    if (delim == std::string::npos) delim = text.size();
  }
  if (delim == text.size()) return false;  // no port at all
  if (text[delim] != ':' && text[delim] != '/') return false;
  if (delim >= kMaxHostLength) return false;
  std::string_view port = std::string_view(text).substr(delim + 1);
  return port == "*" || PortNumber(port) > 0;
}

bool ValidEnvironment(std::string_view value) {
  size_t eq = value.find('=');
  if (eq == std::string_view::npos || eq == 0) return false;
  for (char c : value.substr(0, eq)) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_';
    if (!ok) return false;
  }
  return true;
}

bool ValidTunnel(std::string_view value) {
  if (value.size() == 3 && strncasecmp(value.data(), "any", 3) == 0) {
    return true;
  }
  long long n = 0;
  return StrToNum(value, 0, kMaxTunnel, &n);
}

// Checks one valued option's value on its own (no cross-option rules).
Status CheckValue(std::string_view name, std::string_view value) {
  if (name == "principals" || name == "from") {
    if (value.empty()) {
      return Status::InvalidArgument("option '" + std::string(name) +
                                     "' must not be empty");
    }
  } else if (name == "expiry-time") {
    PH_RETURN_IF_ERROR(ParseExpiryTime(value).status());
  } else if (name == "environment") {
    if (!ValidEnvironment(value)) return InvalidValue(name, value);
  } else if (name == "permitopen") {
    if (!ValidPermit(value, false)) return InvalidValue(name, value);
  } else if (name == "permitlisten") {
    if (!ValidPermit(value, true)) return InvalidValue(name, value);
  } else if (name == "tunnel") {
    if (!ValidTunnel(value)) return InvalidValue(name, value);
  }
  return Status::Ok();
}

// The spec for a lower-cased option name, "no-" forms included.
const OptionSpec* FindSpec(std::string_view lower, bool* negated) {
  *negated = false;
  for (const OptionSpec& spec : kOptionSpecs) {
    if (spec.name == lower) return &spec;
  }
  if (lower.substr(0, 3) == "no-") {
    for (const OptionSpec& spec : kOptionSpecs) {
      if (spec.kind == OptionKind::kNegatableFlag &&
          spec.name == lower.substr(3)) {
        *negated = true;
        return &spec;
      }
    }
  }
  return nullptr;
}

// Rules that span the options of one line.
class OptionSetChecker {
 public:
  Status Add(const KeyOption& opt) {
    if (opt.name == "command" || opt.name == "principals" ||
        opt.name == "from") {
      if (!seen_once_.insert(opt.name).second) {
        return Status::InvalidArgument("multiple \"" + opt.name + "\" clauses");
      }
    } else if (opt.name == "environment") {
      // As sshd: the limit counts distinct names and is checked before the
      // new one is added; a repeated name is ignored by sshd (first wins).
      if (env_names_.size() > kMaxEnvironment) {
        return Status::InvalidArgument("too many environment options");
      }
      env_names_.insert(opt.value->substr(0, opt.value->find('=')));
    } else if (opt.name == "permitopen" || opt.name == "permitlisten") {
      size_t& n = opt.name == "permitopen" ? permitopen_ : permitlisten_;
      if (n > kMaxPermits) {
        return Status::InvalidArgument("too many " + opt.name + " options");
      }
      ++n;
    }
    return Status::Ok();
  }

 private:
  std::set<std::string> seen_once_;
  std::set<std::string> env_names_;
  size_t permitopen_ = 0;
  size_t permitlisten_ = 0;
};

// Reads one option starting at text[*pos] (not a comma) and leaves *pos on
// the comma after it or at the end.
Result<KeyOption> ReadOption(std::string_view text, size_t* pos) {
  size_t start = *pos;
  size_t name_end = text.find_first_of("=,", start);
  if (name_end == std::string_view::npos) name_end = text.size();
  std::string_view name = text.substr(start, name_end - start);
  KeyOption opt;
  opt.name = Lower(name);
  bool negated = false;
  const OptionSpec* spec = FindSpec(opt.name, &negated);
  if (spec == nullptr) {
    return Status::InvalidArgument("unknown option '" + Printable(name) + "'");
  }
  bool has_value = name_end < text.size() && text[name_end] == '=';
  if (spec->kind != OptionKind::kValued) {
    if (has_value) {
      return Status::InvalidArgument("option '" + opt.name +
                                     "' takes no value");
    }
    *pos = name_end;
  } else {
    size_t q = name_end + 1;
    if (!has_value || q >= text.size() || text[q] != '"') {
      return Status::InvalidArgument("option '" + opt.name +
                                     "' needs a quoted value");
    }
    std::string value;
    size_t i = q + 1;
    // Only \" is an escape; any other backslash is literal, as in sshd's
    // opt_dequote().
    while (i < text.size() && text[i] != '"') {
      if (text[i] == '\\' && i + 1 < text.size() && text[i + 1] == '"') ++i;
      value.push_back(text[i++]);
    }
    if (i >= text.size()) {
      return Status::InvalidArgument("unterminated quote in option '" +
                                     opt.name + "'");
    }
    *pos = i + 1;
    if (*pos < text.size() && text[*pos] != ',') {
      return Status::InvalidArgument("unexpected characters after option '" +
                                     opt.name + "'");
    }
    PH_RETURN_IF_ERROR(CheckValue(opt.name, value));
    opt.value = std::move(value);
  }
  opt.raw = std::string(text.substr(start, *pos - start));
  return opt;
}

// Parses an options field that has no unquoted whitespace.
Result<std::vector<KeyOption>> ParseOptionsField(std::string_view text) {
  std::vector<KeyOption> out;
  OptionSetChecker checker;
  size_t pos = 0;
  while (pos < text.size()) {
    // sshd skips empty options silently (",a", "a,,b", and "a," followed
    // by the key all authenticate), so we do too.
    if (text[pos] == ',') {
      ++pos;
      continue;
    }
    PH_ASSIGN_OR_RETURN(KeyOption opt, ReadOption(text, &pos));
    PH_RETURN_IF_ERROR(checker.Add(opt));
    out.push_back(std::move(opt));
  }
  return out;
}

// Length of the options field at the start of `line`: up to the first
// space/tab outside quotes, with \" never toggling the quote state (sshd's
// sshkey_advance_past_options()). npos if a quote is left open.
size_t OptionsFieldLength(std::string_view line) {
  bool quoted = false;
  size_t i = 0;
  for (; i < line.size() && (quoted || !IsBlank(line[i])); ++i) {
    if (line[i] == '\\' && i + 1 < line.size() && line[i + 1] == '"') {
      ++i;
    } else if (line[i] == '"') {
      quoted = !quoted;
    }
  }
  return quoted ? std::string_view::npos : i;
}

std::string_view FirstWord(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && !IsBlank(s[i])) ++i;
  return s.substr(0, i);
}

std::string_view SkipBlanks(std::string_view s) {
  while (!s.empty() && IsBlank(s.front())) s.remove_prefix(1);
  return s;
}

std::string QuoteValue(std::string_view value) {
  std::string out = "\"";
  for (char c : value) {
    if (c == '"') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

std::string CanonicalOption(const KeyOption& opt) {
  if (!opt.value.has_value()) return opt.name;
  return opt.name + "=" + QuoteValue(*opt.value);
}

// True if `raw` on its own reads back as exactly `opt`.
bool RawMatches(const KeyOption& opt) {
  if (opt.raw.empty()) return false;
  Result<std::vector<KeyOption>> back = ParseKeyOptions(opt.raw);
  return back.ok() && back->size() == 1 && back->front() == opt;
}

}  // namespace

std::optional<SystemTime> AuthorizedKey::Expiry() const {
  std::optional<SystemTime> earliest;
  for (const KeyOption& opt : options) {
    if (opt.name != "expiry-time" || !opt.value.has_value()) continue;
    Result<SystemTime> t = ParseExpiryTime(*opt.value);
    if (!t.ok()) continue;  // only possible for options built by hand
    if (!earliest.has_value() || *t < *earliest) earliest = *t;
  }
  return earliest;
}

bool AuthorizedKey::HasOption(std::string_view name) const {
  return FindOption(name) != nullptr;
}

const KeyOption* AuthorizedKey::FindOption(std::string_view name) const {
  std::string lower = Lower(name);
  for (const KeyOption& opt : options) {
    if (opt.name == lower) return &opt;
  }
  return nullptr;
}

Result<AuthorizedKey> ParseAuthorizedKey(std::string_view line) {
  if (line.size() > kMaxAuthorizedKeyLine) {
    return Status::InvalidArgument("line too long");
  }
  if (line.find('\0') != std::string_view::npos) {
    return Status::InvalidArgument("NUL character in line");
  }
  line = SkipBlanks(line);
  while (!line.empty() && (IsBlank(line.back()) || line.back() == '\r')) {
    line.remove_suffix(1);
  }
  if (line.empty()) return Status::InvalidArgument("blank line");
  if (line.front() == '#') return Status::InvalidArgument("comment line");

  AuthorizedKey out;
  std::string_view key_text = line;
  std::string_view first = FirstWord(line);
  // sshd first reads the line as a bare key; only if that fails is the
  // first word taken as options. A key type name is never a valid option,
  // so deciding on the first word gives the same answer with better errors.
  if (!IsKeyLineTypeName(first)) {
    size_t field_len = OptionsFieldLength(line);
    if (field_len == std::string_view::npos) {
      return Status::InvalidArgument("unterminated quote in options");
    }
    key_text = SkipBlanks(line.substr(field_len));
    Result<std::vector<KeyOption>> opts =
        ParseOptionsField(line.substr(0, field_len));
    if (!opts.ok()) {
      // "ssh-ed448 AAAA..." is more likely an unknown key type than an
      // unknown option: say so when the word is option-shaped and no key
      // type follows it.
      bool plain_word = first.find_first_of("=,\"") == std::string_view::npos;
      if (plain_word && !IsKeyLineTypeName(FirstWord(key_text)) &&
          opts.status().message().rfind("unknown option", 0) == 0) {
        return Status::InvalidArgument("unknown key type '" + Printable(first) +
                                       "'");
      }
      return opts.status();
    }
    out.options = std::move(opts).value();
    if (key_text.empty()) {
      return Status::InvalidArgument("missing key after options");
    }
  }
  PH_ASSIGN_OR_RETURN(out.key, ParsePublicKeyLine(key_text, &out.comment));
  return out;
}

Result<std::vector<KeyOption>> ParseKeyOptions(std::string_view text) {
  size_t field_len = OptionsFieldLength(text);
  if (field_len == std::string_view::npos) {
    return Status::InvalidArgument("unterminated quote in options");
  }
  if (field_len != text.size()) {
    return Status::InvalidArgument("unquoted whitespace in options");
  }
  if (text.find('\0') != std::string_view::npos) {
    return Status::InvalidArgument("NUL character in options");
  }
  return ParseOptionsField(text);
}

Result<KeyOption> MakeKeyOption(std::string_view name,
                                std::optional<std::string> value) {
  KeyOption opt;
  opt.name = Lower(name);
  bool negated = false;
  const OptionSpec* spec = FindSpec(opt.name, &negated);
  if (spec == nullptr) {
    return Status::InvalidArgument("unknown option '" + Printable(name) + "'");
  }
  if (spec->kind != OptionKind::kValued) {
    if (value.has_value()) {
      return Status::InvalidArgument("option '" + opt.name +
                                     "' takes no value");
    }
    return opt;
  }
  if (!value.has_value()) {
    return Status::InvalidArgument("option '" + opt.name +
                                   "' needs a quoted value");
  }
  if (!OptionValueWritable(*value)) {
    return Status::InvalidArgument("option '" + opt.name +
                                   "' value cannot be written: \"" +
                                   Printable(*value) + "\"");
  }
  PH_RETURN_IF_ERROR(CheckValue(opt.name, *value));
  opt.value = std::move(value);
  return opt;
}

bool OptionValueWritable(std::string_view value) {
  if (value.find_first_of(std::string_view("\0\r\n", 3)) !=
      std::string_view::npos) {
    return false;
  }
  return value.empty() || value.back() != '\\';
}

std::string FormatKeyOptions(const std::vector<KeyOption>& options) {
  std::string out;
  for (const KeyOption& opt : options) {
    if (!out.empty()) out.push_back(',');
    out += RawMatches(opt) ? opt.raw : CanonicalOption(opt);
  }
  return out;
}

std::string FormatAuthorizedKey(const AuthorizedKey& key) {
  std::string out = FormatKeyOptions(key.options);
  if (!out.empty()) out.push_back(' ');
  out += key.key.TypeName();
  out.push_back(' ');
  out += crypto::Base64Encode(key.key.blob);
  if (!key.comment.empty()) {
    out.push_back(' ');
    out += key.comment;
  }
  return out;
}

namespace {

// The canonical UTC forms (YYYYMMDD[HHMM[SS]] + "Z" with every field in its
// normal range) computed directly; strptime + timegm give the same answer
// for them, ten times slower. Anything else takes the strptime path.
std::optional<SystemTime> FastUtcExpiry(std::string_view s) {
  using namespace std::chrono;
  if (s.size() < 2 || s.back() != 'Z') return std::nullopt;
  s.remove_suffix(1);
  if (s.size() != 8 && s.size() != 12 && s.size() != 14) return std::nullopt;
  int f[6] = {0, 0, 0, 0, 0, 0};
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  auto num = [&](size_t at, size_t n) {
    int v = 0;
    for (size_t k = 0; k < n; ++k) v = v * 10 + (s[at + k] - '0');
    return v;
  };
  f[0] = num(0, 4);
  f[1] = num(4, 2);
  f[2] = num(6, 2);
  if (s.size() >= 12) {
    f[3] = num(8, 2);
    f[4] = num(10, 2);
  }
  if (s.size() == 14) f[5] = num(12, 2);
  year_month_day ymd{year(f[0]), month(static_cast<unsigned>(f[1])),
                     day(static_cast<unsigned>(f[2]))};
  if (f[0] < 1970 || f[0] > 2200 || !ymd.ok() || f[3] > 23 || f[4] > 59 ||
      f[5] > 59) {
    return std::nullopt;
  }
  auto t = sys_days(ymd) + hours(f[3]) + minutes(f[4]) + seconds(f[5]);
  if (t.time_since_epoch().count() <= 0) return std::nullopt;
  return SystemTime(duration_cast<SystemTime::duration>(t.time_since_epoch()));
}

}  // namespace

Result<SystemTime> ParseExpiryTime(std::string_view text) {
  if (auto fast = FastUtcExpiry(text)) return *fast;
  Status invalid = InvalidValue("expiry-time", text);
  if (text.find('\0') != std::string_view::npos) return invalid;
  std::string s(text);
  size_t len = s.size();
  bool utc = false;
  if (len > 1 && (s[len - 1] == 'Z' || s[len - 1] == 'z')) {
    utc = true;
    len -= 1;
  } else if (len > 3 && strcasecmp(s.c_str() + len - 3, "UTC") == 0) {
    utc = true;
    len -= 3;
  }
  // strptime needs separators between conversions, so the digits are
  // re-punctuated first. Using strptime itself (not our own digit reader)
  // keeps its quirks (e.g. a space before a one-digit field) identical to
  // sshd's on the same C library.
  std::string buf;
  const char* format = nullptr;
  switch (len) {
    case 8:
      buf = s.substr(0, 4) + "-" + s.substr(4, 2) + "-" + s.substr(6, 2);
      format = "%Y-%m-%d";
      break;
    case 12:
      buf = s.substr(0, 4) + "-" + s.substr(4, 2) + "-" + s.substr(6, 2) + "T" +
            s.substr(8, 2) + ":" + s.substr(10, 2);
      format = "%Y-%m-%dT%H:%M";
      break;
    case 14:
      buf = s.substr(0, 4) + "-" + s.substr(4, 2) + "-" + s.substr(6, 2) + "T" +
            s.substr(8, 2) + ":" + s.substr(10, 2) + ":" + s.substr(12, 2);
      format = "%Y-%m-%dT%H:%M:%S";
      break;
    default:
      return invalid;
  }
  struct tm tm = {};
  const char* end = strptime(buf.c_str(), format, &tm);
  if (end == nullptr || *end != '\0') return invalid;
  time_t t = utc ? timegm(&tm) : mktime(&tm);
  // sshd refuses negative times and 0 (its "no expiry" value).
  if (t <= 0) return invalid;

  using std::chrono::seconds;
  const long long max_seconds =
      std::chrono::duration_cast<seconds>(SystemTime::duration::max()).count();
  long long secs = static_cast<long long>(t);
  if (secs > max_seconds) secs = max_seconds;
  return SystemTime(
      std::chrono::duration_cast<SystemTime::duration>(seconds(secs)));
}

std::string FormatExpiryTime(SystemTime t) {
  using std::chrono::seconds;
  time_t secs = static_cast<time_t>(
      std::chrono::floor<seconds>(t.time_since_epoch()).count());
  struct tm tm = {};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y%m%d%H%MZ", &tm);
  return buf;
}

}  // namespace porthole::keys
