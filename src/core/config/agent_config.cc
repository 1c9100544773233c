#include "core/config/agent_config.h"

#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <limits>
#include <set>
#include <utility>

#include <spdlog/spdlog.h>

#include "core/base/file.h"
#include "core/base/utf8.h"
#include "core/config/toml.h"

extern char** environ;

namespace porthole::config {
namespace {

// ---------------------------------------------------------------------------
// The schema: every key the file or the environment may set.

enum class Kind { kTable, kValue, kDuration, kArgv };

struct KeySpec {
  std::string_view path;
  Kind kind;
};

constexpr KeySpec kSchema[] = {
    {"torizon", Kind::kTable},
    {"torizon.url", Kind::kValue},
    {"torizon.director_url", Kind::kValue},
    {"torizon.client_cert_path", Kind::kValue},
    {"torizon.client_key_path", Kind::kValue},
    {"torizon.server_cert_path", Kind::kValue},
    {"torizon.namespace", Kind::kValue},
    {"torizon.http_timeout", Kind::kDuration},
    {"device", Kind::kTable},
    {"device.ssh_private_key_path", Kind::kValue},
    {"device.local_tuf_repo_path", Kind::kValue},
    {"device.poll_timeout", Kind::kDuration},
    {"device.validation_poll_timeout", Kind::kDuration},
    {"device.session", Kind::kTable},
    {"device.unprivileged_user_group", Kind::kValue},
    {"device.enable_dbus_client", Kind::kValue},
    {"device.commands_dir", Kind::kValue},
    {"device.commands_timeout", Kind::kDuration},
    {"device.session.spawned_sshd", Kind::kTable},
    {"device.session.spawned_sshd.sshd_path", Kind::kValue},
    {"device.session.spawned_sshd.config_dir", Kind::kValue},
    {"device.session.spawned_sshd.host_key_path", Kind::kValue},
    {"device.session.embedded", Kind::kTable},
    {"device.session.embedded.server_key_path", Kind::kValue},
    {"device.session.embedded.shell", Kind::kValue},
    {"device.session.target_host", Kind::kTable},
    {"device.session.target_host.host_port", Kind::kValue},
    {"device.session.target_host.authorized_keys_path", Kind::kValue},
    {"porthole", Kind::kTable},
    {"porthole.dbus_bus", Kind::kValue},
    {"porthole.long_poll_wait", Kind::kDuration},
    {"porthole.link_timeout", Kind::kDuration},
    {"porthole.reboot_command", Kind::kArgv},
    {"porthole.reboot_delay", Kind::kDuration},
    {"porthole.restart_service_command", Kind::kArgv},
};

// In the order FormatAgentConfig writes them and the index of SessionMode.
constexpr std::string_view kModes[] = {"spawned_sshd", "embedded",
                                       "target_host"};
// RAC's table form holds secs as a TOML integer (signed 64 bits), so no
// longer duration can be written back.
constexpr uint64_t kMaxSecs = std::numeric_limits<int64_t>::max();

constexpr char kModeList[] =
    "[device.session.spawned_sshd], [device.session.embedded] or "
    "[device.session.target_host]";

const KeySpec* FindSpec(std::string_view path) {
  for (const KeySpec& s : kSchema) {
    if (s.path == path) return &s;
  }
  return nullptr;
}

std::string Dotted(std::string_view table, std::string_view key) {
  if (table.empty()) return std::string(key);
  return std::string(table) + "." + std::string(key);
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string Printable(std::string_view s) { return PrintableText(s); }

std::string Quoted(std::string_view s) { return "'" + Printable(s) + "'"; }

// ---------------------------------------------------------------------------
// The environment overrides.

struct EnvValue {
  std::string var;  // the variable's name, for messages
  std::string value;
  bool porthole = false;  // PORTHOLE__ (wins over RAC__)
};

using EnvTree = std::map<std::string, EnvValue, std::less<>>;

std::string EnvWhere(const EnvValue& e, std::string_view path) {
  return "environment variable " + Printable(e.var) + ": key '" +
         Printable(path) + "'";
}

// The RAC__/PORTHOLE__ variables by key path, each checked against the
// schema.
Result<EnvTree> CollectEnv(const Environment& env) {
  EnvTree tree;
  for (const auto& [name, value] : env) {
    std::string lower = Lower(name);
    bool porthole = lower.starts_with("porthole__");
    if (!porthole && !lower.starts_with("rac__")) continue;
    std::string rest = lower.substr(porthole ? 10 : 5);
    std::string path;
    bool empty_segment = rest.empty();
    for (size_t i = 0; i < rest.size();) {
      if (rest.compare(i, 2, "__") == 0) {
        if (path.empty() || path.back() == '.') empty_segment = true;
        path += '.';
        i += 2;
      } else {
        path += rest[i++];
      }
    }
    if (!path.empty() && path.back() == '.') empty_segment = true;
    EnvValue e{name, value, porthole};
    if (empty_segment) {
      return Status::InvalidArgument(
          "environment variable " + Printable(name) +
          ": not a key path (PREFIX__TABLE__KEY, e.g. RAC__TORIZON__URL)");
    }
    const KeySpec* spec = FindSpec(path);
    if (!IsValidUtf8(value)) {
      return Status::InvalidArgument(EnvWhere(e, path) +
                                     ": the value is not valid UTF-8");
    }
    if (spec != nullptr && spec->kind == Kind::kTable) {
      return Status::InvalidArgument(EnvWhere(e, path) +
                                     ": is a table; set its keys one by one (" +
                                     Printable(name) + "__<KEY>)");
    }
    if (spec != nullptr && spec->kind == Kind::kArgv) {
      return Status::InvalidArgument(
          EnvWhere(e, path) +
          ": an argument vector cannot be set from the environment; set it "
          "in the file");
    }
    if (spec == nullptr) {
      size_t dot = path.rfind('.');
      const KeySpec* parent =
          dot == std::string::npos ? nullptr : FindSpec(path.substr(0, dot));
      std::string_view leaf = std::string_view(path).substr(dot + 1);
      if (parent == nullptr || parent->kind != Kind::kDuration ||
          (leaf != "secs" && leaf != "nanos")) {
        return Status::InvalidArgument(EnvWhere(e, path) + ": unknown key");
      }
    }
    auto it = tree.find(path);
    if (it == tree.end() || (porthole && !it->second.porthole)) {
      tree[path] = std::move(e);
    }
  }
  return tree;
}

// ---------------------------------------------------------------------------
// The file's keys against the schema.

std::string UnknownKeyHint(std::string_view path) {
  if (path == "device.target_host_port") {
    return " (RAC's older format: write host_port under "
           "[device.session.target_host])";
  }
  if (path == "device.authorized_keys_path") {
    return " (RAC's older format: write authorized_keys_path under "
           "[device.session.target_host])";
  }
  return "";
}

std::string LineWhere(const TomlTable& t, int line, std::string_view path) {
  std::string w = t.source();
  if (line > 0) w += ":" + std::to_string(line);
  return w + ": key '" + Printable(path) + "'";
}

Status CheckKeys(TomlTable& t) {
  for (const std::string& key : t.Keys()) {
    std::string path = Dotted(t.path(), key);
    const KeySpec* spec = FindSpec(path);
    if (spec == nullptr) {
      return Status::InvalidArgument(LineWhere(t, t.Line(key), path) +
                                     ": unknown key" + UnknownKeyHint(path));
    }
    if (spec->kind == Kind::kTable) {
      if (t.Type(key) != TomlType::kTable) {
        return Status::InvalidArgument(t.Where(key) + ": expected a table");
      }
      PH_ASSIGN_OR_RETURN(auto sub, t.GetTable(key));
      PH_RETURN_IF_ERROR(CheckKeys(*sub));
    } else if (spec->kind == Kind::kDuration &&
               t.Type(key) == TomlType::kTable) {
      PH_ASSIGN_OR_RETURN(auto sub, t.GetTable(key));
      for (const std::string& k : sub->Keys()) {
        if (k != "secs" && k != "nanos") {
          return Status::InvalidArgument(
              LineWhere(*sub, sub->Line(k), Dotted(path, k)) +
              ": unknown key (a duration has secs and nanos)");
        }
      }
    }
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------
// Reading values: the environment first, then the file.

// A value and where it came from (the prefix of an error message).
template <typename T>
struct Located {
  T value;
  std::string where;
};

// A table of the file (absent when the file lacks it) and its dotted path.
struct Table {
  std::optional<TomlTable> toml;
  std::string path;
};

class Reader {
 public:
  Reader(std::string file, EnvTree env, AgentConfig* out)
      : file_(std::move(file)), env_(std::move(env)), out_(out) {}

  Table Root(TomlTable root) { return Table{root, ""}; }

  // The sub-table `key` of `t` (CheckKeys has checked it is a table).
  Table Sub(const Table& t, std::string_view key) {
    Table sub{std::nullopt, Dotted(t.path, key)};
    if (t.toml && t.toml->Type(key) == TomlType::kTable) {
      auto r = TomlTable(*t.toml).GetTable(key);
      if (r.ok()) sub.toml = **r;
    }
    return sub;
  }

  // "FILE:LINE: key 'a.b'" for a key that should be in `t` but is not.
  std::string WhereMissing(const Table& t, std::string_view key) const {
    std::string w = file_;
    int line = t.toml ? t.toml->Line() : 0;
    if (line > 0) w += ":" + std::to_string(line);
    return w + ": key '" + Dotted(t.path, key) + "'";
  }

  Status Missing(const Table& t, std::string_view key) const {
    return Status::InvalidArgument(WhereMissing(t, key) +
                                   ": missing (required)");
  }

  using OptString = std::optional<Located<std::string>>;

  Result<OptString> String(Table& t, std::string_view key) {
    std::string path = Dotted(t.path, key);
    if (const EnvValue* e = Env(path)) {
      return OptString(Located<std::string>{e->value, EnvWhere(*e, path)});
    }
    if (!t.toml || !t.toml->Has(key)) return OptString();
    PH_ASSIGN_OR_RETURN(auto v, t.toml->GetString(key));
    FromFile(t, key);
    return OptString(Located<std::string>{*v, t.toml->Where(key)});
  }

  // A string naming a file or directory: not empty, no NUL.
  Result<OptString> Path(Table& t, std::string_view key) {
    PH_ASSIGN_OR_RETURN(auto v, String(t, key));
    if (v && v->value.empty()) {
      return Status::InvalidArgument(v->where + ": an empty path");
    }
    if (v && v->value.find('\0') != std::string::npos) {
      return Status::InvalidArgument(v->where + ": a path cannot contain NUL");
    }
    return v;
  }

  Status RequiredPath(Table& t, std::string_view key, std::string* out) {
    PH_ASSIGN_OR_RETURN(auto v, Path(t, key));
    if (!v) return Missing(t, key);
    *out = v->value;
    return Status::Ok();
  }

  Status OptionalPath(Table& t, std::string_view key, std::string* out) {
    PH_ASSIGN_OR_RETURN(auto v, Path(t, key));
    if (v) *out = v->value;
    return Status::Ok();
  }

  Status OptionalPath(Table& t, std::string_view key,
                      std::optional<std::string>* out) {
    PH_ASSIGN_OR_RETURN(auto v, Path(t, key));
    if (v) *out = v->value;
    return Status::Ok();
  }

  Status Bool(Table& t, std::string_view key, bool* out) {
    std::string path = Dotted(t.path, key);
    if (const EnvValue* e = Env(path)) {
      std::string v = Lower(e->value);
      if (v == "true" || v == "yes" || v == "on" || v == "1") {
        *out = true;
      } else if (v == "false" || v == "no" || v == "off" || v == "0") {
        *out = false;
      } else {
        return Status::InvalidArgument(EnvWhere(*e, path) +
                                       ": expected true or false, not " +
                                       Quoted(e->value));
      }
      return Status::Ok();
    }
    if (!t.toml) return Status::Ok();
    PH_ASSIGN_OR_RETURN(auto v, t.toml->GetBool(key));
    if (v) {
      *out = *v;
      FromFile(t, key);
    }
    return Status::Ok();
  }

  // A duration; with `range`, one outside [first, second] is an error
  // naming where it was set.
  Status DurationValue(
      Table& t, std::string_view key, Duration* out,
      std::optional<std::pair<Duration, Duration>> range = std::nullopt);

  // An array of strings from the file (the environment cannot set one:
  // CollectEnv refuses it); "" in *where when absent.
  Result<std::optional<Located<std::vector<std::string>>>> StringArray(
      Table& t, std::string_view key) {
    using Out = std::optional<Located<std::vector<std::string>>>;
    if (!t.toml || !t.toml->Has(key)) return Out();
    PH_ASSIGN_OR_RETURN(auto v, t.toml->GetStringArray(key));
    FromFile(t, key);
    return Out(Located<std::vector<std::string>>{*v, t.toml->Where(key)});
  }

  // A session mode and where it is set: "FILE:LINE", or the first variable
  // that sets one of its keys.
  struct ModeSite {
    std::string name;
    std::string where;
    bool env = false;
  };

  // The session modes set in the file (in file order) or by the
  // environment (after them).
  std::vector<ModeSite> Modes(const Table& session) const {
    std::vector<ModeSite> modes;
    if (session.toml) {
      for (const std::string& k : session.toml->Keys()) {
        modes.push_back(
            {k, file_ + ":" + std::to_string(session.toml->Line(k)), false});
      }
    }
    for (std::string_view m : kModes) {
      bool seen = false;
      for (const ModeSite& site : modes) seen = seen || site.name == m;
      if (seen) continue;
      std::string prefix = Dotted(session.path, m) + ".";
      for (const auto& [path, e] : env_) {
        if (path.starts_with(prefix)) {
          modes.push_back({std::string(m), e.var, true});
          break;
        }
      }
    }
    return modes;
  }

 private:
  const EnvValue* Env(const std::string& path) {
    auto it = env_.find(path);
    if (it == env_.end()) return nullptr;
    out_->origins[path] = {Origin::kEnvironment, it->second.var};
    return &it->second;
  }

  void FromFile(const Table& t, std::string_view key) {
    out_->origins[Dotted(t.path, key)] = {
        Origin::kFile, file_ + ":" + std::to_string(t.toml->Line(key))};
  }

  std::string file_;
  EnvTree env_;
  AgentConfig* out_;
};

// An unsigned integer from the environment.
Result<uint64_t> EnvUnsigned(const EnvValue& e, const std::string& path) {
  uint64_t n = 0;
  bool ok = !e.value.empty() && e.value.size() <= 20;
  for (char c : e.value) {
    if (c < '0' || c > '9') {
      ok = false;
      break;
    }
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (n > (std::numeric_limits<uint64_t>::max() - d) / 10) {
      ok = false;
      break;
    }
    n = n * 10 + d;
  }
  if (!ok) {
    return Status::InvalidArgument(EnvWhere(e, path) +
                                   ": expected an unsigned integer, not " +
                                   Quoted(e.value));
  }
  return n;
}

Status Reader::DurationValue(
    Table& t, std::string_view key, Duration* out,
    std::optional<std::pair<Duration, Duration>> range) {
  const std::string path = Dotted(t.path, key);
  auto out_of_range = [&](Duration d) {
    return range && (d < range->first || d > range->second);
  };
  auto range_error = [&](const std::string& at, Duration d) {
    return Status::InvalidArgument(
        at + ": " + FormatDuration(d) + " is outside " +
        FormatDuration(range->first) + ".." + FormatDuration(range->second));
  };
  const std::string secs_path = path + ".secs";
  const std::string nanos_path = path + ".nanos";
  auto whole_it = env_.find(path);
  auto secs_it = env_.find(secs_path);
  auto nanos_it = env_.find(nanos_path);
  const EnvValue* whole = whole_it == env_.end() ? nullptr : &whole_it->second;
  const EnvValue* env_secs = secs_it == env_.end() ? nullptr : &secs_it->second;
  const EnvValue* env_nanos =
      nanos_it == env_.end() ? nullptr : &nanos_it->second;

  if (whole != nullptr) {
    if (env_secs != nullptr || env_nanos != nullptr) {
      return Status::InvalidArgument(
          EnvWhere(*whole, path) + ": also set by " +
          Printable((env_secs ? env_secs : env_nanos)->var) +
          "; set either the text form or secs and nanos");
    }
    auto d = ParseDuration(whole->value);
    if (d.ok() && d->secs > kMaxSecs) {
      return Status::InvalidArgument(
          EnvWhere(*whole, path) +
          ": longer than the longest duration a config file can hold (" +
          std::to_string(kMaxSecs) + " seconds)");
    }
    if (!d.ok()) {
      return Status::InvalidArgument(EnvWhere(*whole, path) + ": " +
                                     d.status().message());
    }
    if (out_of_range(*d)) return range_error(EnvWhere(*whole, path), *d);
    *out = *d;
    out_->origins[path] = {Origin::kEnvironment, whole->var};
    return Status::Ok();
  }

  // The file's value as secs and nanos, each possibly absent.
  std::optional<uint64_t> secs, nanos;
  std::string where = WhereMissing(t, key);
  const TomlType type = t.toml ? t.toml->Type(key) : TomlType::kNone;
  if (type != TomlType::kNone) where = t.toml->Where(key);
  auto non_negative = [](std::optional<int64_t> v, const std::string& at,
                         const char* name) -> Result<std::optional<uint64_t>> {
    if (!v) return std::optional<uint64_t>();
    if (*v < 0) {
      return Status::InvalidArgument(at + ": " + name +
                                     " must not be negative");
    }
    return std::optional<uint64_t>(static_cast<uint64_t>(*v));
  };
  switch (type) {
    case TomlType::kNone:
      break;
    case TomlType::kTable: {
      PH_ASSIGN_OR_RETURN(auto sub, t.toml->GetTable(key));
      PH_ASSIGN_OR_RETURN(auto s, sub->GetInt("secs"));
      PH_ASSIGN_OR_RETURN(auto n, sub->GetInt("nanos"));
      PH_ASSIGN_OR_RETURN(secs, non_negative(s, sub->Where("secs"), "secs"));
      PH_ASSIGN_OR_RETURN(nanos, non_negative(n, sub->Where("nanos"), "nanos"));
      break;
    }
    case TomlType::kArray: {
      auto a = t.toml->GetIntArray(key);
      if (!a.ok() || (*a)->size() != 2) {
        return Status::InvalidArgument(
            where + ": a duration array is [secs, nanos], two integers");
      }
      PH_ASSIGN_OR_RETURN(secs, non_negative((**a)[0], where, "secs"));
      PH_ASSIGN_OR_RETURN(nanos, non_negative((**a)[1], where, "nanos"));
      break;
    }
    case TomlType::kString: {
      PH_ASSIGN_OR_RETURN(auto text, t.toml->GetString(key));
      auto d = ParseDuration(*text);
      if (!d.ok()) {
        return Status::InvalidArgument(where + ": " + d.status().message());
      }
      secs = d->secs;
      nanos = d->nanos;
      break;
    }
    case TomlType::kInteger:
      return Status::InvalidArgument(
          where +
          ": a bare integer is not a duration; write { secs = N, nanos = 0 } "
          "or a string such as \"30s\"");
    default:
      return Status::InvalidArgument(
          where +
          ": expected a duration: { secs = N, nanos = M }, [N, M] or a "
          "string such as \"30s\", \"1500ms\", \"2m\", \"1h\"");
  }

  if (type == TomlType::kNone && env_secs == nullptr && env_nanos == nullptr) {
    return Status::Ok();  // the default
  }

  // Merge, key by key; the environment wins.
  uint64_t s = 0, n = 0;
  std::string vars;
  if (env_secs != nullptr) {
    PH_ASSIGN_OR_RETURN(s, EnvUnsigned(*env_secs, secs_path));
    vars = env_secs->var;
  } else if (secs) {
    s = *secs;
  } else {
    return Status::InvalidArgument(
        (env_nanos ? EnvWhere(*env_nanos, path) : where) +
        ": secs is missing (a duration needs both secs and nanos)");
  }
  if (env_nanos != nullptr) {
    PH_ASSIGN_OR_RETURN(n, EnvUnsigned(*env_nanos, nanos_path));
    if (!vars.empty()) vars += ", ";
    vars += env_nanos->var;
  } else if (nanos) {
    n = *nanos;
  } else {
    return Status::InvalidArgument(
        (env_secs ? EnvWhere(*env_secs, path) : where) +
        ": nanos is missing (a duration needs both secs and nanos)");
  }
  if (n > std::numeric_limits<uint32_t>::max()) {
    return Status::InvalidArgument(
        (env_nanos ? EnvWhere(*env_nanos, nanos_path) : where) +
        ": nanos must be at most 4294967295");
  }
  auto d = Duration::FromParts(s, n);
  if (!d.ok() || d->secs > kMaxSecs) {
    return Status::InvalidArgument(
        (vars.empty() ? where
                      : EnvWhere(*(env_secs ? env_secs : env_nanos), path)) +
        ": longer than the longest duration a config file can hold (" +
        std::to_string(kMaxSecs) + " seconds)");
  }
  if (out_of_range(*d)) {
    return range_error(
        vars.empty() ? where
                     : EnvWhere(*(env_secs ? env_secs : env_nanos), path),
        *d);
  }
  *out = *d;
  if (!vars.empty()) {
    out_->origins[path] = {Origin::kEnvironment, vars};
  } else {
    out_->origins[path] = {Origin::kFile,
                           file_ + ":" + std::to_string(t.toml->Line(key))};
  }
  return Status::Ok();
}

// url or director_url: an http(s) URL; a missing trailing '/' is appended
// with a note.
Result<Url> BaseUrl(const Located<std::string>& v, std::string_view example,
                    AgentConfig* out) {
  auto u = ParseHttpUrl(v.value);
  if (!u.ok()) {
    return Status::InvalidArgument(v.where + ": " + u.status().message());
  }
  if (u->path().ends_with("/")) return *u;
  Url fixed = u->WithPath(u->path() + "/");
  out->notes.push_back(v.where + ": " + Quoted(v.value) +
                       " lacks the trailing '/'; porthole uses '" +
                       fixed.ToString() + "' (stock RAC would call " +
                       u->Resolve(example).ToString() + ")");
  return fixed;
}

Status ReadTorizon(Reader& r, Table& t, AgentConfig* c) {
  TorizonConfig& tz = c->torizon;
  PH_ASSIGN_OR_RETURN(auto url, r.String(t, "url"));
  if (!url) return r.Missing(t, "url");
  PH_ASSIGN_OR_RETURN(tz.url, BaseUrl(*url, "sessions", c));
  PH_ASSIGN_OR_RETURN(auto dir, r.String(t, "director_url"));
  if (dir) {
    PH_ASSIGN_OR_RETURN(tz.director_url, BaseUrl(*dir, "root.json", c));
  } else {
    c->origins["torizon.director_url"] = {Origin::kDerived,
                                          "url, with the path /director/"};
  }
  PH_RETURN_IF_ERROR(
      r.RequiredPath(t, "client_cert_path", &tz.client_cert_path));
  PH_RETURN_IF_ERROR(r.RequiredPath(t, "client_key_path", &tz.client_key_path));
  PH_RETURN_IF_ERROR(
      r.RequiredPath(t, "server_cert_path", &tz.server_cert_path));
  PH_ASSIGN_OR_RETURN(auto ns, r.String(t, "namespace"));
  if (ns) {
    auto uuid = ParseUuid(ns->value);
    if (!uuid.ok()) {
      return Status::InvalidArgument(ns->where + ": " +
                                     uuid.status().message());
    }
    tz.ats_namespace = *uuid;
  }
  return r.DurationValue(t, "http_timeout", &tz.http_timeout);
}

Status ReadSession(Reader& r, Table& device, DeviceConfig* d) {
  Table session = r.Sub(device, "session");
  std::vector<Reader::ModeSite> modes = r.Modes(session);
  if (modes.empty()) {
    return Status::InvalidArgument(r.WhereMissing(device, "session") +
                                   ": missing; add one of " + kModeList);
  }
  if (modes.size() > 1) {
    const Reader::ModeSite& first = modes[0];
    const Reader::ModeSite& second = modes[1];
    std::string where = second.env
                            ? "environment variable " + Printable(second.where)
                            : second.where;
    return Status::InvalidArgument(
        where + ": key 'device.session." + Printable(second.name) +
        "': a second session mode (" + first.name + " is set " +
        (first.env ? "by " : "at ") + Printable(first.where) +
        "); keep exactly one of " + kModeList);
  }
  const std::string& mode = modes[0].name;
  Table t = r.Sub(session, mode);
  if (mode == "spawned_sshd") {
    SpawnedSshdSession s;
    PH_RETURN_IF_ERROR(r.OptionalPath(t, "sshd_path", &s.sshd_path));
    PH_RETURN_IF_ERROR(r.OptionalPath(t, "config_dir", &s.config_dir));
    PH_RETURN_IF_ERROR(r.OptionalPath(t, "host_key_path", &s.host_key_path));
    d->session = s;
  } else if (mode == "embedded") {
    EmbeddedSession s;
    PH_RETURN_IF_ERROR(
        r.OptionalPath(t, "server_key_path", &s.server_key_path));
    PH_RETURN_IF_ERROR(r.OptionalPath(t, "shell", &s.shell));
    d->session = s;
  } else {
    TargetHostSession s;
    PH_ASSIGN_OR_RETURN(auto hp, r.String(t, "host_port"));
    if (hp) {
      auto addr = ParseSocketAddress(hp->value);
      if (!addr.ok()) {
        return Status::InvalidArgument(hp->where + ": " +
                                       addr.status().message());
      }
      s.host_port = *addr;
    }
    PH_RETURN_IF_ERROR(
        r.OptionalPath(t, "authorized_keys_path", &s.authorized_keys_path));
    d->session = s;
  }
  return Status::Ok();
}

Status ReadDevice(Reader& r, Table& t, DeviceConfig* d) {
  PH_RETURN_IF_ERROR(
      r.RequiredPath(t, "ssh_private_key_path", &d->ssh_private_key_path));
  PH_RETURN_IF_ERROR(
      r.OptionalPath(t, "local_tuf_repo_path", &d->local_tuf_repo_path));
  PH_RETURN_IF_ERROR(r.DurationValue(t, "poll_timeout", &d->poll_timeout));
  PH_RETURN_IF_ERROR(r.DurationValue(t, "validation_poll_timeout",
                                     &d->validation_poll_timeout));
  PH_RETURN_IF_ERROR(ReadSession(r, t, d));
  PH_ASSIGN_OR_RETURN(auto ug, r.String(t, "unprivileged_user_group"));
  if (ug) {
    auto v = ParseUserGroup(ug->value);
    if (!v.ok()) {
      return Status::InvalidArgument(ug->where + ": " + v.status().message());
    }
    d->unprivileged_user_group = *v;
  }
  PH_RETURN_IF_ERROR(r.Bool(t, "enable_dbus_client", &d->enable_dbus_client));
  PH_RETURN_IF_ERROR(r.OptionalPath(t, "commands_dir", &d->commands_dir));
  return r.DurationValue(t, "commands_timeout", &d->commands_timeout);
}

// An argument vector: 1 to kMaxArgs elements without NUL, the first not
// empty, every "{word}" one of `placeholders`, and `required` (if not
// empty) somewhere.
constexpr size_t kMaxArgs = 64;
constexpr size_t kMaxArgBytes = 4096;

Status CheckArgv(const Located<std::vector<std::string>>& v,
                 std::initializer_list<std::string_view> placeholders,
                 std::string_view required) {
  const std::vector<std::string>& argv = v.value;
  if (argv.empty() || argv.size() > kMaxArgs) {
    return Status::InvalidArgument(v.where + ": an argument vector has 1 to " +
                                   std::to_string(kMaxArgs) + " elements");
  }
  if (argv[0].empty()) {
    return Status::InvalidArgument(v.where +
                                   ": the program (first element) is empty");
  }
  std::string known;
  for (std::string_view p : placeholders) {
    known += (known.empty() ? "" : ", ") + std::string(p);
  }
  bool has_required = required.empty();
  for (const std::string& a : argv) {
    if (a.find('\0') != std::string::npos || a.size() > kMaxArgBytes ||
        !IsValidUtf8(a)) {
      return Status::InvalidArgument(v.where + ": element " + Quoted(a) +
                                     " must be UTF-8 without NUL, at most " +
                                     std::to_string(kMaxArgBytes) + " bytes");
    }
    for (size_t open = a.find('{'); open != std::string::npos;
         open = a.find('{', open + 1)) {
      size_t close = open + 1;
      while (close < a.size() &&
             ((a[close] >= 'a' && a[close] <= 'z') || a[close] == '_')) {
        ++close;
      }
      if (close == open + 1 || close == a.size() || a[close] != '}') continue;
      std::string_view word =
          std::string_view(a).substr(open, close - open + 1);
      if (std::find(placeholders.begin(), placeholders.end(), word) ==
          placeholders.end()) {
        return Status::InvalidArgument(v.where + ": unknown placeholder " +
                                       Quoted(word) + " in " + Quoted(a) +
                                       (known.empty()
                                            ? " (this key has none)"
                                            : " (known: " + known + ")"));
      }
      if (word == required) has_required = true;
    }
  }
  if (!has_required) {
    return Status::InvalidArgument(v.where + ": must contain " +
                                   std::string(required) +
                                   " (where the name goes)");
  }
  return Status::Ok();
}

Status ReadPorthole(Reader& r, Table& t, PortholeConfig* p) {
  PH_ASSIGN_OR_RETURN(auto bus, r.String(t, "dbus_bus"));
  if (bus) {
    if (bus->value == "session") {
      p->dbus_bus = DbusBus::kSession;
    } else if (bus->value == "system") {
      p->dbus_bus = DbusBus::kSystem;
    } else {
      return Status::InvalidArgument(bus->where +
                                     ": expected \"session\" or "
                                     "\"system\", not " +
                                     Quoted(bus->value));
    }
  }
  PH_RETURN_IF_ERROR(r.DurationValue(t, "long_poll_wait", &p->long_poll_wait));
  PH_RETURN_IF_ERROR(r.DurationValue(t, "link_timeout", &p->link_timeout,
                                     {{kMinLinkTimeout, kMaxLinkTimeout}}));
  PH_ASSIGN_OR_RETURN(auto reboot, r.StringArray(t, "reboot_command"));
  if (reboot) {
    PH_RETURN_IF_ERROR(CheckArgv(
        *reboot, {kDelaySecondsPlaceholder, kDelayMinutesPlaceholder}, ""));
    p->reboot_command = reboot->value;
  }
  PH_RETURN_IF_ERROR(r.DurationValue(t, "reboot_delay", &p->reboot_delay));
  PH_ASSIGN_OR_RETURN(auto restart,
                      r.StringArray(t, "restart_service_command"));
  if (restart) {
    PH_RETURN_IF_ERROR(
        CheckArgv(*restart, {kServicePlaceholder}, kServicePlaceholder));
    p->restart_service_command = restart->value;
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------
// Writing.

std::string DurationToml(Duration d) {
  return "{ secs = " + std::to_string(d.secs) +
         ", nanos = " + std::to_string(d.nanos) + " }";
}

class Writer {
 public:
  Writer(const AgentConfig& c, ConfigStyle style) : c_(c), style_(style) {}

  void Header() {
    if (style_ != ConfigStyle::kAnnotated) return;
    out_ += "# porthole-agent configuration, as loaded\n";
    if (!c_.file.empty()) out_ += "# file: " + Printable(c_.file) + "\n";
    if (!c_.cwd.empty()) {
      out_ += "# relative paths resolve against: " + Printable(c_.cwd) + "\n";
    }
    std::set<std::string> vars;
    for (const auto& [key, o] : c_.origins) {
      if (o.origin == Origin::kEnvironment) vars.insert(o.detail);
    }
    for (const std::string& v : vars) {
      out_ += "# from the environment: " + Printable(v) + "\n";
    }
    for (const std::string& n : c_.notes) {
      out_ += "# note: " + PrintableText(n, n.size()) + "\n";
    }
    out_ += "\n";
  }

  void Section(std::string_view name) {
    if (!first_section_) out_ += "\n";
    first_section_ = false;
    out_ += "[" + std::string(name) + "]\n";
    table_ = name;
  }

  // key = value, and in annotated style a comment: where it came from, and
  // `extra` (a duration's text form, an absolute path).
  void Key(std::string_view key, const std::string& value,
           std::string extra = "") {
    out_ += std::string(key) + " = " + value;
    if (style_ == ConfigStyle::kAnnotated) {
      std::string note;
      ValueOrigin o = c_.OriginOf(Dotted(table_, key));
      switch (o.origin) {
        case Origin::kDefault:
          note = "default";
          break;
        case Origin::kEnvironment:
          note = "from " + o.detail;
          break;
        case Origin::kDerived:
          note = "derived from " + o.detail;
          break;
        case Origin::kFile:
          break;
      }
      if (!extra.empty()) note = note.empty() ? extra : extra + "; " + note;
      if (!note.empty()) out_ += "  # " + Printable(note);
    }
    out_ += "\n";
  }

  void String(std::string_view key, const std::string& value) {
    Key(key, TomlQuote(value));
  }

  void PathKey(std::string_view key, const std::string& value,
               std::string extra = "") {
    std::string abs = c_.Absolute(value);
    if (abs != value) extra = extra.empty() ? abs : extra + ", " + abs;
    Key(key, TomlQuote(value), extra);
  }

  void ArgvKey(std::string_view key, const std::vector<std::string>& argv) {
    std::string v = "[";
    for (size_t i = 0; i < argv.size(); ++i) {
      v += (i == 0 ? "" : ", ") + TomlQuote(argv[i]);
    }
    Key(key, v + "]");
  }

  void DurationKey(std::string_view key, Duration d) {
    Key(key, DurationToml(d), FormatDuration(d));
  }

  // In annotated style, a key that is not set but has an effective value
  // (director_url, host_key_path) as a comment, so that reading the output
  // back leaves it unset.
  void Implied(std::string_view key, const std::string& value,
               std::string_view why) {
    if (style_ != ConfigStyle::kAnnotated) return;
    out_ += "# " + std::string(key) + " = " + Printable(value) + "  (" +
            std::string(why) + ")\n";
  }

  // An optional key that is not set: a comment in annotated style.
  void Unset(std::string_view key, std::string_view meaning) {
    if (style_ != ConfigStyle::kAnnotated) return;
    out_ += "# " + std::string(key) + " is not set";
    if (!meaning.empty()) out_ += ": " + std::string(meaning);
    out_ += "\n";
  }

  std::string Take() { return std::move(out_); }

 private:
  const AgentConfig& c_;
  ConfigStyle style_;
  std::string out_;
  std::string table_;
  bool first_section_ = true;
};

std::string UrlAnnotation(const AgentConfig& c, std::string_view key) {
  for (const std::string& n : c.notes) {
    if (n.find("key 'torizon." + std::string(key) + "'") != std::string::npos) {
      return "porthole added the trailing '/'";
    }
  }
  return "";
}

bool IsUuidHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
          (c >= 'A' && c <= 'F'))) {
      return false;
    }
  }
  return true;
}

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

// A POSIX-style user or group name (a trailing '$' allowed for machine
// accounts), not starting with '-'.
bool IsAccountName(std::string_view s) {
  if (s.empty() || s.size() > 256 || s[0] == '-') return false;
  if (s.back() == '$') s.remove_suffix(1);
  if (s.empty()) return false;
  for (char c : s) {
    if (!IsNameChar(c)) return false;
  }
  return true;
}

std::string CurrentDir(const std::string& given) {
  if (!given.empty()) return given;
  char buf[4096];
  return getcwd(buf, sizeof buf) != nullptr ? std::string(buf) : std::string();
}

}  // namespace

// ---------------------------------------------------------------------------

std::string SocketAddress::ToString() const {
  return (ipv6 ? "[" + ip + "]" : ip) + ":" + std::to_string(port);
}

Result<SocketAddress> ParseSocketAddress(std::string_view text) {
  const std::string expected =
      " is not an IP address and port such as \"127.0.0.1:22\" or "
      "\"[::1]:22\" (host names are not accepted)";
  SocketAddress a;
  std::string_view host, port;
  if (text.starts_with("[")) {
    size_t close = text.find("]:");
    if (close == std::string_view::npos) {
      return Status::InvalidArgument(Quoted(text) + expected);
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
    a.ipv6 = true;
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return Status::InvalidArgument(Quoted(text) + expected);
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  std::string h(host);
  unsigned char buf[16];
  int family = a.ipv6 ? AF_INET6 : AF_INET;
  if (h.find('\0') != std::string::npos ||
      inet_pton(family, h.c_str(), buf) != 1) {
    return Status::InvalidArgument(Quoted(text) + expected);
  }
  char canon[INET6_ADDRSTRLEN];
  if (inet_ntop(family, buf, canon, sizeof canon) == nullptr) {
    return Status::InvalidArgument(Quoted(text) + expected);
  }
  a.ip = canon;
  uint32_t p = 0;
  bool ok = !port.empty() && port.size() <= 5;
  for (char c : port) {
    if (c < '0' || c > '9') ok = false;
    if (ok) p = p * 10 + static_cast<uint32_t>(c - '0');
  }
  if (!ok || p == 0 || p > 65535) {
    return Status::InvalidArgument(Quoted(text) +
                                   ": the port must be 1 to 65535");
  }
  a.port = static_cast<uint16_t>(p);
  return a;
}

Result<UserGroup> ParseUserGroup(std::string_view text) {
  size_t colon = text.find(':');
  if (colon == std::string_view::npos) {
    return Status::InvalidArgument(Quoted(text) +
                                   " is not \"user:group\" (no ':')");
  }
  UserGroup ug{std::string(text.substr(0, colon)),
               std::string(text.substr(colon + 1))};
  if (!IsAccountName(ug.user)) {
    return Status::InvalidArgument(Quoted(text) + ": " + Quoted(ug.user) +
                                   " is not a user name");
  }
  if (!IsAccountName(ug.group)) {
    return Status::InvalidArgument(Quoted(text) + ": " + Quoted(ug.group) +
                                   " is not a group name");
  }
  return ug;
}

Result<std::string> ParseUuid(std::string_view text) {
  std::string_view s = text;
  if (s.size() == 45 && Lower(s.substr(0, 9)) == "urn:uuid:") {
    s.remove_prefix(9);
  } else if (s.size() == 38 && s.front() == '{' && s.back() == '}') {
    s = s.substr(1, 36);
  }
  std::string hex;
  if (s.size() == 36 && s[8] == '-' && s[13] == '-' && s[18] == '-' &&
      s[23] == '-') {
    hex = std::string(s.substr(0, 8)) + std::string(s.substr(9, 4)) +
          std::string(s.substr(14, 4)) + std::string(s.substr(19, 4)) +
          std::string(s.substr(24));
  } else if (s.size() == 32) {
    hex = std::string(s);
  }
  if (hex.size() != 32 || !IsUuidHex(hex)) {
    return Status::InvalidArgument(
        Quoted(text) +
        " is not a UUID (e.g. \"8e6f1c2a-3b4d-4e5f-8a9b-0c1d2e3f4a5b\")");
  }
  hex = Lower(hex);
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) +
         "-" + hex.substr(16, 4) + "-" + hex.substr(20);
}

std::string SpawnedSshdSession::HostKeyPath() const {
  if (host_key_path) return *host_key_path;
  if (config_dir.empty()) return "host_key_ed25519";
  return config_dir + (config_dir.ends_with("/") ? "" : "/") +
         "host_key_ed25519";
}

std::string_view SessionModeName(const SessionMode& mode) {
  return kModes[mode.index()];
}

Url TorizonConfig::Director() const {
  return director_url ? *director_url : url.WithPath("/director/");
}

std::string TorizonConfig::PublicKeysUrl() const {
  return url.Resolve("public-keys").ToString();
}
std::string TorizonConfig::SessionsUrl() const {
  return url.Resolve("sessions").ToString();
}
std::string TorizonConfig::CommandsUrl() const {
  return url.Resolve("commands").ToString();
}
std::string TorizonConfig::HostKeysUrl() const {
  return url.Resolve("host-keys").ToString();
}
std::string TorizonConfig::CommandResultUrl(std::string_view urn) const {
  return url.Resolve("commands/" + std::string(urn) + "/result").ToString();
}
std::string TorizonConfig::RootUrl() const {
  return Director().Resolve("root.json").ToString();
}
std::string TorizonConfig::VersionedRootUrl(uint64_t version) const {
  return Director().Resolve(std::to_string(version) + ".root.json").ToString();
}
std::string TorizonConfig::RemoteSessionsUrl() const {
  return Director().Resolve("remote-sessions.json").ToString();
}

ValueOrigin AgentConfig::OriginOf(std::string_view key) const {
  auto it = origins.find(key);
  return it == origins.end() ? ValueOrigin{} : it->second;
}

std::string AgentConfig::Absolute(const std::string& path) const {
  if (path.starts_with("/") || cwd.empty()) return path;
  std::string_view p = path;
  while (p.starts_with("./")) {
    p.remove_prefix(2);
    while (p.starts_with("/")) p.remove_prefix(1);
  }
  if (p.empty() || p == ".") return cwd;
  return cwd + (cwd.ends_with("/") ? "" : "/") + std::string(p);
}

Environment ProcessEnvironment() {
  Environment env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view kv(*e);
    size_t eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    env.emplace(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
  }
  return env;
}

Result<AgentConfig> ParseAgentConfig(std::string_view text,
                                     const std::string& file,
                                     const Environment& env,
                                     const std::string& cwd) {
  PH_ASSIGN_OR_RETURN(TomlDocument doc, TomlDocument::Parse(text, file));
  PH_ASSIGN_OR_RETURN(EnvTree tree, CollectEnv(env));
  TomlTable root = doc.Root();
  PH_RETURN_IF_ERROR(CheckKeys(root));

  AgentConfig c;
  c.file = file;
  c.cwd = cwd;
  Reader r(file, std::move(tree), &c);
  Table top = r.Root(root);
  Table torizon = r.Sub(top, "torizon");
  PH_RETURN_IF_ERROR(ReadTorizon(r, torizon, &c));
  Table device = r.Sub(top, "device");
  PH_RETURN_IF_ERROR(ReadDevice(r, device, &c.device));
  Table porthole = r.Sub(top, "porthole");
  PH_RETURN_IF_ERROR(ReadPorthole(r, porthole, &c.porthole));
  return c;
}

Result<std::string> FindAgentConfigFile(const LoadOptions& options) {
  AgentConfig at;  // for Absolute()
  at.cwd = CurrentDir(options.cwd);
  // FILE, else FILE.toml; kNotFound naming `what`.
  auto named = [&](const std::string& name,
                   const std::string& what) -> Result<std::string> {
    std::string path = at.Absolute(name);
    if (PathExists(path)) return path;
    if (PathExists(path + ".toml")) return path + ".toml";
    return Status::NotFound(what + ": " + Printable(path) +
                            " does not exist (nor " + Printable(path) +
                            ".toml)");
  };
  if (!options.config_file.empty()) {
    return named(options.config_file, "--config");
  }
  auto env_file = options.env.find("CONFIG_FILE");
  if (env_file != options.env.end()) {
    if (env_file->second.empty()) {
      return Status::NotFound("CONFIG_FILE is set but empty");
    }
    return named(env_file->second, "CONFIG_FILE");
  }
  std::string looked;
  for (size_t i = 0; i < options.search_path.size(); ++i) {
    std::string path = at.Absolute(options.search_path[i]);
    if (PathExists(path)) return path;
    if (!looked.empty()) {
      looked += i + 1 == options.search_path.size() ? " and " : ", ";
    }
    looked += Printable(path);
  }
  return Status::NotFound(
      "no configuration file: CONFIG_FILE is not set and there is no " +
      looked + " (--config FILE names one)");
}

Result<AgentConfig> LoadAgentConfig(const LoadOptions& options) {
  PH_ASSIGN_OR_RETURN(std::string path, FindAgentConfigFile(options));
  PH_ASSIGN_OR_RETURN(std::string text, ReadFile(path, 1 << 20, true));
  PH_ASSIGN_OR_RETURN(AgentConfig c, ParseAgentConfig(text, path, options.env,
                                                      CurrentDir(options.cwd)));
  for (const std::string& note : c.notes) spdlog::warn("{}", note);
  auto debug = options.env.find("DEBUG_CONFIG");
  if (debug != options.env.end() && debug->second == "true") {
    std::string dump = FormatAgentConfig(c, ConfigStyle::kAnnotated);
    size_t start = 0;
    while (start < dump.size()) {
      size_t end = dump.find('\n', start);
      if (end == std::string::npos) end = dump.size();
      spdlog::debug("config: {}", dump.substr(start, end - start));
      start = end + 1;
    }
  }
  return c;
}

namespace {

// FormatAgentConfig; `every_table` also writes a [porthole] table of
// defaults in plain style.
std::string Format(const AgentConfig& c, ConfigStyle style, bool every_table) {
  Writer w(c, style);
  const TorizonConfig& tz = c.torizon;
  const DeviceConfig& d = c.device;
  w.Header();

  w.Section("torizon");
  w.Key("url", TomlQuote(tz.url.ToString()), UrlAnnotation(c, "url"));
  if (tz.director_url) {
    w.Key("director_url", TomlQuote(tz.director_url->ToString()),
          UrlAnnotation(c, "director_url"));
  } else {
    w.Implied("director_url", TomlQuote(tz.Director().ToString()),
              "not set: url with the path /director/");
  }
  w.PathKey("client_cert_path", tz.client_cert_path);
  w.PathKey("client_key_path", tz.client_key_path);
  w.PathKey("server_cert_path", tz.server_cert_path);
  if (tz.ats_namespace) {
    w.String("namespace", *tz.ats_namespace);
  } else {
    w.Unset("namespace", "no x-ats-namespace header");
  }
  w.DurationKey("http_timeout", tz.http_timeout);

  w.Section("device");
  w.PathKey("ssh_private_key_path", d.ssh_private_key_path);
  w.PathKey("local_tuf_repo_path", d.local_tuf_repo_path);
  w.DurationKey("poll_timeout", d.poll_timeout);
  w.DurationKey("validation_poll_timeout", d.validation_poll_timeout);
  if (d.unprivileged_user_group) {
    w.String("unprivileged_user_group", d.unprivileged_user_group->ToString());
  } else {
    w.Unset("unprivileged_user_group", "privileges are not dropped");
  }
  w.Key("enable_dbus_client", d.enable_dbus_client ? "true" : "false");
  w.PathKey("commands_dir", d.commands_dir);
  w.DurationKey("commands_timeout", d.commands_timeout);

  w.Section("device.session." + std::string(SessionModeName(d.session)));
  if (const auto* s = std::get_if<SpawnedSshdSession>(&d.session)) {
    w.PathKey("sshd_path", s->sshd_path);
    w.PathKey("config_dir", s->config_dir);
    if (s->host_key_path) {
      w.PathKey("host_key_path", *s->host_key_path);
    } else {
      std::string abs = c.Absolute(s->HostKeyPath());
      w.Implied("host_key_path", TomlQuote(s->HostKeyPath()),
                "not set: <config_dir>/host_key_ed25519" +
                    (abs != s->HostKeyPath() ? ", " + abs : std::string()));
    }
  } else if (const auto* e = std::get_if<EmbeddedSession>(&d.session)) {
    if (e->server_key_path) {
      w.PathKey("server_key_path", *e->server_key_path);
    } else {
      w.Unset("server_key_path", "");
    }
    w.PathKey("shell", e->shell);
  } else if (const auto* t = std::get_if<TargetHostSession>(&d.session)) {
    w.String("host_port", t->host_port.ToString());
    w.PathKey("authorized_keys_path", t->authorized_keys_path);
  }

  // Plain style is for RAC: the porthole table only when it says something
  // (stock RAC would ignore it anyway).
  const PortholeConfig& p = c.porthole;
  if (style == ConfigStyle::kPlain && !every_table && p == PortholeConfig()) {
    return w.Take();
  }
  w.Section("porthole");
  w.String("dbus_bus", std::string(DbusBusName(p.dbus_bus)));
  w.DurationKey("long_poll_wait", p.long_poll_wait);
  w.DurationKey("link_timeout", p.link_timeout);
  w.ArgvKey("reboot_command", p.reboot_command);
  w.DurationKey("reboot_delay", p.reboot_delay);
  w.ArgvKey("restart_service_command", p.restart_service_command);
  return w.Take();
}

}  // namespace

std::string FormatAgentConfig(const AgentConfig& c, ConfigStyle style) {
  return Format(c, style, false);
}

std::string_view DbusBusName(DbusBus bus) {
  return bus == DbusBus::kSystem ? "system" : "session";
}

std::vector<std::string> ChangedSettings(const AgentConfig& a,
                                         const AgentConfig& b) {
  // The plain form (with every table) has one "key = value" line per
  // setting under its [table]; a session mode is its table name.
  auto settings = [](const AgentConfig& c) {
    std::vector<std::pair<std::string, std::string>> out;
    std::string table;
    std::string text = Format(c, ConfigStyle::kPlain, true);
    size_t start = 0;
    while (start < text.size()) {
      size_t end = text.find('\n', start);
      if (end == std::string::npos) end = text.size();
      std::string_view line(text.data() + start, end - start);
      start = end + 1;
      if (line.starts_with("[")) {
        table = std::string(line.substr(1, line.size() - 2));
        if (table.starts_with("device.session.")) {
          out.push_back({"device.session", table});
        }
        continue;
      }
      size_t eq = line.find(" = ");
      if (eq == std::string_view::npos) continue;
      out.push_back({table + "." + std::string(line.substr(0, eq)),
                     std::string(line.substr(eq + 3))});
    }
    return out;
  };
  auto before = settings(a), after = settings(b);
  std::vector<std::string> changed;
  auto note = [&](const std::string& key) {
    if (std::find(changed.begin(), changed.end(), key) == changed.end()) {
      changed.push_back(key);
    }
  };
  auto value_in = [](const auto& list, const std::string& key) {
    for (const auto& [k, v] : list) {
      if (k == key) return std::optional<std::string>(v);
    }
    return std::optional<std::string>();
  };
  for (const auto& [k, v] : after) {
    if (value_in(before, k) != v) note(k);
  }
  for (const auto& [k, v] : before) {
    if (!value_in(after, k)) note(k);
  }
  return changed;
}

}  // namespace porthole::config
