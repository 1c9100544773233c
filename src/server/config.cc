#include "server/config.h"

#include <unistd.h>

#include <limits>
#include <optional>
#include <vector>

#include "core/base/file.h"
#include "core/config/toml.h"
#include "core/crypto/x509.h"

namespace porthole::server {
namespace {

using config::Duration;
using config::TomlTable;

constexpr uint64_t kSecsPerDay = 86400;

// ---- value readers: one per kind of value ----

Status ReadHost(TomlTable& t, const char* key, std::string* out) {
  PH_ASSIGN_OR_RETURN(auto v, t.GetString(key));
  if (!v) return Status::Ok();
  if (!crypto::IsValidHostName(*v)) {
    return Status::InvalidArgument(t.Where(key) + ": '" +
                                   config::PrintableText(*v) +
                                   "' is not a DNS name or an IP address");
  }
  *out = *v;
  return Status::Ok();
}

Status ReadListen(TomlTable& t, const char* key, std::string* out) {
  PH_ASSIGN_OR_RETURN(auto v, t.GetString(key));
  if (!v) return Status::Ok();
  if (!crypto::IsIpLiteral(*v)) {
    return Status::InvalidArgument(
        t.Where(key) + ": '" + config::PrintableText(*v) +
        "' is not an IP address (e.g. \"0.0.0.0\", \"::\", \"127.0.0.1\")");
  }
  *out = *v;
  return Status::Ok();
}

Status ReadPortIn(TomlTable& t, const char* key, uint16_t* out, int64_t lo,
                  int64_t hi) {
  PH_ASSIGN_OR_RETURN(auto v, t.GetInt(key));
  if (!v) return Status::Ok();
  if (*v < lo || *v > hi) {
    return Status::InvalidArgument(t.Where(key) + ": " + std::to_string(*v) +
                                   " is not a port in " + std::to_string(lo) +
                                   ".." + std::to_string(hi));
  }
  *out = static_cast<uint16_t>(*v);
  return Status::Ok();
}

Status ReadPort(TomlTable& t, const char* key, uint16_t* out) {
  return ReadPortIn(t, key, out, 1, 65535);
}

Status ReadDuration(TomlTable& t, const char* key, Duration* out) {
  PH_ASSIGN_OR_RETURN(auto v, t.GetString(key));
  if (!v) return Status::Ok();
  auto d = ParseConfigDuration(*v);
  if (!d.ok()) {
    return Status::InvalidArgument(t.Where(key) + ": " + d.status().message());
  }
  if (d->secs == 0 && d->nanos == 0) {
    return Status::InvalidArgument(t.Where(key) + ": must be longer than 0s");
  }
  *out = *d;
  return Status::Ok();
}

Status ReadPath(TomlTable& t, const char* key, std::string* out,
                bool absolute) {
  PH_ASSIGN_OR_RETURN(auto v, t.GetString(key));
  if (!v) return Status::Ok();
  if (v->empty() || v->find('\0') != std::string::npos ||
      (absolute && (*v)[0] != '/')) {
    return Status::InvalidArgument(t.Where(key) + ": '" +
                                   config::PrintableText(*v) + "' is not " +
                                   (absolute ? "an absolute path" : "a path"));
  }
  *out = *v;
  return Status::Ok();
}

// ---- the key table ----

struct Key {
  const char* section;  // "" for the top level
  const char* name;
  Status (*read)(TomlTable& t, const char* key, ServerConfig* c);
};

constexpr Key kKeys[] = {
    {"", "data_dir",
     [](TomlTable& t, const char* k, ServerConfig* c) {
       return ReadPath(t, k, &c->data_dir, true);
     }},
    {"", "hostname",
     [](TomlTable& t, const char* k, ServerConfig* c) {
       return ReadHost(t, k, &c->hostname);
     }},
    {"device_api", "listen",
     [](TomlTable& t, const char* k, ServerConfig* c) {
       return ReadListen(t, k, &c->device_api.listen);
     }},
    {"device_api", "port",
     [](TomlTable& t, const char* k, ServerConfig* c) {
       return ReadPort(t, k, &c->device_api.port);
     }},
    {"operator_api", "listen",
     [](TomlTable& t, const char* k, ServerConfig* c) {
       return ReadListen(t, k, &c->operator_api.listen);
     }},
    {"operator_api", "port",
     [](TomlTable& t, const char* k, ServerConfig* c) {
       return ReadPort(t, k, &c->operator_api.port);
     }},
    {"relay", "listen",
     [](TomlTable& t, const char* k, ServerConfig* c) {
       return ReadListen(t, k, &c->relay.listen.listen);
     }},
    {"relay", "port",
     [](TomlTable& t, const char* k, ServerConfig* c) {
       return ReadPort(t, k, &c->relay.listen.port);
     }},
    {"relay", "public_host",
     [](TomlTable& t, const char* k, ServerConfig* c) {
       return ReadHost(t, k, &c->relay.public_host);
     }},
    {"relay", "port_min",
     [](TomlTable& t, const char* k, ServerConfig* c) {
       return ReadPortIn(t, k, &c->relay.port_min, 1024, 65535);
     }},
    {"relay", "port_max",
     [](TomlTable& t, const char* k, ServerConfig* c) {
       return ReadPortIn(t, k, &c->relay.port_max, 1024, 65535);
     }},
    {"sessions", "default_ttl",
     [](TomlTable& t, const char* k, ServerConfig* c) {
       return ReadDuration(t, k, &c->sessions.default_ttl);
     }},
    {"sessions", "max_ttl",
     [](TomlTable& t, const char* k, ServerConfig* c) {
       return ReadDuration(t, k, &c->sessions.max_ttl);
     }},
    {"policy", "expiry",
     [](TomlTable& t, const char* k, ServerConfig* c) {
       return ReadDuration(t, k, &c->policy.expiry);
     }},
    {"policy", "renew_before",
     [](TomlTable& t, const char* k, ServerConfig* c) {
       return ReadDuration(t, k, &c->policy.renew_before);
     }},
    {"store", "backend",
     [](TomlTable& t, const char* k, ServerConfig*) -> Status {
       PH_ASSIGN_OR_RETURN(auto v, t.GetString(k));
       if (v && *v != "sqlite") {
         return Status::InvalidArgument(t.Where(k) + ": unknown backend '" +
                                        config::PrintableText(*v) +
                                        "' (this build has \"sqlite\")");
       }
       return Status::Ok();
     }},
    {"store", "path",
     [](TomlTable& t, const char* k, ServerConfig* c) {
       return ReadPath(t, k, &c->store.path, false);
     }},
};

// Checks between keys; each message names the key that has to change.
Status CheckRelations(const ServerConfig& c, const std::string& file,
                      TomlTable& root) {
  if (c.hostname.empty()) {
    return Status::InvalidArgument(
        file +
        ": key 'hostname': missing; set the public name devices and "
        "operators use (porthole-server init writes it)");
  }
  auto where = [&](const char* section, const char* key) {
    auto t = root.GetTable(section);
    if (t.ok() && *t && (*t)->Has(key)) return (*t)->Where(key);
    return file + ": key '" + section + "." + key + "'";
  };
  if (c.relay.port_min > c.relay.port_max) {
    return Status::InvalidArgument(
        where("relay", "port_min") + ": " + std::to_string(c.relay.port_min) +
        " is above port_max " + std::to_string(c.relay.port_max));
  }
  if (c.sessions.default_ttl.ToChrono() > c.sessions.max_ttl.ToChrono()) {
    return Status::InvalidArgument(
        where("sessions", "default_ttl") + ": " +
        FormatConfigDuration(c.sessions.default_ttl) +
        " is longer than max_ttl " + FormatConfigDuration(c.sessions.max_ttl));
  }
  if (c.policy.renew_before.ToChrono() >= c.policy.expiry.ToChrono()) {
    return Status::InvalidArgument(where("policy", "renew_before") + ": " +
                                   FormatConfigDuration(c.policy.renew_before) +
                                   " must be shorter than expiry " +
                                   FormatConfigDuration(c.policy.expiry));
  }
  return Status::Ok();
}

std::string AbsoluteDirOf(const std::string& file) {
  std::string dir = DirName(file);
  if (!dir.empty() && dir[0] == '/') return dir;
  char buf[4096];
  std::string cwd = getcwd(buf, sizeof buf) != nullptr ? buf : "/";
  return dir == "." ? cwd : cwd + "/" + dir;
}

}  // namespace

std::string ServerConfig::RelayPublicHost() const {
  return relay.public_host.empty() ? hostname : relay.public_host;
}

std::string ServerConfig::StorePath() const {
  if (!store.path.empty() && store.path[0] == '/') return store.path;
  return data_dir + "/" + store.path;
}

bool ServerConfig::SameSettings(const ServerConfig& o) const {
  return data_dir == o.data_dir && hostname == o.hostname &&
         device_api == o.device_api && operator_api == o.operator_api &&
         relay == o.relay && sessions == o.sessions && policy == o.policy &&
         store == o.store;
}

Result<ServerConfig> ParseServerConfig(std::string_view text,
                                       const std::string& file) {
  PH_ASSIGN_OR_RETURN(auto doc, config::TomlDocument::Parse(text, file));
  TomlTable root = doc.Root();

  // Pass 1: which keys exist, so that an unknown key is the first error.
  std::vector<std::pair<std::string, TomlTable>> sections = {{"", root}};
  for (const Key& k : kKeys) {
    std::string section = k.section;
    TomlTable* table = nullptr;
    for (auto& [name, t] : sections) {
      if (name == section) table = &t;
    }
    if (table == nullptr) {
      PH_ASSIGN_OR_RETURN(auto t, root.GetTable(section));
      if (!t) continue;  // a section left out: all defaults
      sections.emplace_back(section, *t);
      table = &sections.back().second;
    }
    table->MarkRead(k.name);
  }
  PH_RETURN_IF_ERROR(root.CheckNoUnknownKeys());

  // Pass 2: the values.
  ServerConfig c;
  c.file = file;
  for (const Key& k : kKeys) {
    for (auto& [name, t] : sections) {
      if (name == k.section) PH_RETURN_IF_ERROR(k.read(t, k.name, &c));
    }
  }
  if (c.data_dir.empty()) c.data_dir = AbsoluteDirOf(file);
  while (c.data_dir.size() > 1 && c.data_dir.back() == '/') {
    c.data_dir.pop_back();
  }
  PH_RETURN_IF_ERROR(CheckRelations(c, file, root));
  return c;
}

Result<ServerConfig> LoadServerConfig(const std::string& path) {
  auto text = ReadFile(path, 1 << 20, true);
  if (!text.ok()) {
    if (text.status().code() == StatusCode::kNotFound) {
      return Status::NotFound(
          path + ": no such file (porthole-server init creates it)");
    }
    return text.status();
  }
  return ParseServerConfig(*text, path);
}

std::string FormatConfigDuration(Duration d) {
  uint64_t days = d.secs / kSecsPerDay;
  Duration rest{d.secs % kSecsPerDay, d.nanos};
  if (days == 0) return config::FormatDuration(d);
  std::string out = std::to_string(days) + "d";
  if (rest.secs != 0 || rest.nanos != 0) out += config::FormatDuration(rest);
  return out;
}

Result<Duration> ParseConfigDuration(std::string_view text) {
  auto bad = [&] {
    return Status::InvalidArgument(
        "'" + config::PrintableText(text) +
        "' is not a duration (write e.g. \"30d\", \"1d12h\", \"1h30m\", "
        "\"90s\")");
  };
  std::string_view rest = text;
  uint64_t days = 0;
  size_t d = text.find('d');
  if (d != std::string_view::npos) {
    if (d == 0) return bad();
    constexpr uint64_t kMaxDays =
        std::numeric_limits<uint64_t>::max() / kSecsPerDay;
    for (size_t i = 0; i < d; ++i) {
      if (text[i] < '0' || text[i] > '9') return bad();
      uint64_t digit = static_cast<uint64_t>(text[i] - '0');
      if (days > (kMaxDays - digit) / 10) return bad();  // too long
      days = days * 10 + digit;
    }
    rest = text.substr(d + 1);
  }
  Duration out{days * kSecsPerDay, 0};
  if (!rest.empty() || d == std::string_view::npos) {
    auto parsed = config::ParseDuration(rest);
    if (!parsed.ok()) return bad();
    // The day part must be the largest unit: "1d25h" is refused as "1h1d"
    // would be.
    if (d != std::string_view::npos && parsed->secs >= kSecsPerDay) {
      return bad();
    }
    auto sum = Duration::FromParts(out.secs + parsed->secs, parsed->nanos);
    if (!sum.ok()) return bad();
    out = *sum;
  }
  return out;
}

std::string FormatServerConfig(const ServerConfig& c) {
  auto q = [](const std::string& s) { return config::TomlQuote(s); };
  auto listen = [&](const char* name, const ListenConfig& l) {
    return "\n[" + std::string(name) + "]\nlisten = " + q(l.listen) +
           "\nport = " + std::to_string(l.port) + "\n";
  };
  std::string out;
  if (!c.file.empty())
    out += "# porthole-server configuration from " + c.file + "\n";
  out += "data_dir = " + q(c.data_dir) + "\n";
  out += "hostname = " + q(c.hostname) + "\n";
  out += listen("device_api", c.device_api);
  out += listen("operator_api", c.operator_api);
  out += listen("relay", c.relay.listen);
  if (c.relay.public_host.empty()) {
    out += "# public_host = " + q(c.hostname) + "  (not set: hostname)\n";
  } else {
    out += "public_host = " + q(c.relay.public_host) + "\n";
  }
  out += "port_min = " + std::to_string(c.relay.port_min) + "\n";
  out += "port_max = " + std::to_string(c.relay.port_max) + "\n";
  out += "\n[sessions]\ndefault_ttl = " +
         q(FormatConfigDuration(c.sessions.default_ttl)) +
         "\nmax_ttl = " + q(FormatConfigDuration(c.sessions.max_ttl)) + "\n";
  out += "\n[policy]\nexpiry = " + q(FormatConfigDuration(c.policy.expiry)) +
         "\nrenew_before = " + q(FormatConfigDuration(c.policy.renew_before)) +
         "\n";
  out += "\n[store]\nbackend = " + q(c.store.backend) +
         "\npath = " + q(c.store.path) + "\n";
  return out;
}

director::DirectorOptions DirectorOptionsOf(const ServerConfig& config) {
  director::DirectorOptions o;
  o.remote_sessions_expiry = std::chrono::seconds(config.policy.expiry.secs);
  o.remote_sessions_renew_before =
      std::chrono::seconds(config.policy.renew_before.secs);
  return o;
}

}  // namespace porthole::server
