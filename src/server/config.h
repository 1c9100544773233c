// porthole-server's configuration: a TOML file, by default
// DATA_DIR/server.toml (packaging/server.toml is the commented example).
//
//   data_dir = "/var/lib/porthole-server"  absolute; default: the directory
//                                          holding this file
//   hostname = "porthole.example.com"      required: the public DNS name or
//                                          IP address devices and operators
//                                          use (the server certificate's SAN)
//   [device_api]   listen = "0.0.0.0", port = 8443   devices (mutual TLS)
//   [operator_api] listen = "0.0.0.0", port = 8444   operators (bearer token)
//   [relay]        listen = "0.0.0.0", port = 2222   the SSH relay
//                  public_host = hostname            what devices dial
//                  port_min = 40000, port_max = 49999  reverse ports
//   [sessions]     default_ttl = "1h", max_ttl = "24h"
//   [policy]       expiry = "30d", renew_before = "7d"   signed documents
//   [store]        backend = "sqlite", path = "server.db" (relative to
//                  data_dir)
//
// Durations are porthole's text form (core/config/duration.h: "90s",
// "1h30m", ...) plus a leading day count: "30d", "1d12h". An address to
// listen on is an IP literal ("0.0.0.0", "::", "127.0.0.1"). Ports are
// 1..65535; port_min..port_max lie in 1024..65535.
//
// Strict, like the agent's loader: an unknown key, a value of the wrong
// type or out of range, a missing hostname is one kInvalidArgument line
// "FILE:LINE: key 'relay.port': reason". Unknown keys are reported before
// bad values, so a misspelt key is never hidden behind another error.
//
// Adding a key (the HTTP listeners' limits, the relay's): a member below,
// one row in the key table of config.cc, a line in FormatServerConfig(),
// and its documentation here and in packaging/server.toml.
//
// Thread safety: plain data; the functions only read their arguments (and
// LoadServerConfig the file).
#ifndef PORTHOLE_SERVER_CONFIG_H_
#define PORTHOLE_SERVER_CONFIG_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "core/base/status.h"
#include "core/config/duration.h"
#include "server/director/director.h"

namespace porthole::server {

inline constexpr char kDefaultDataDir[] = "/var/lib/porthole-server";
inline constexpr char kConfigFileName[] = "server.toml";

struct ListenConfig {
  std::string listen = "0.0.0.0";
  uint16_t port = 0;
  friend bool operator==(const ListenConfig&, const ListenConfig&) = default;
};

struct RelayConfig {
  ListenConfig listen = {"0.0.0.0", 2222};
  std::string public_host;  // "" = the server's hostname
  uint16_t port_min = 40000;
  uint16_t port_max = 49999;
  friend bool operator==(const RelayConfig&, const RelayConfig&) = default;
};

struct SessionsConfig {
  config::Duration default_ttl = config::Duration::Seconds(3600);
  config::Duration max_ttl = config::Duration::Seconds(24 * 3600);
  friend bool operator==(const SessionsConfig&,
                         const SessionsConfig&) = default;
};

struct PolicyConfig {
  config::Duration expiry = config::Duration::Seconds(30 * 86400);
  config::Duration renew_before = config::Duration::Seconds(7 * 86400);
  friend bool operator==(const PolicyConfig&, const PolicyConfig&) = default;
};

struct StoreConfig {
  std::string backend = "sqlite";
  std::string path = "server.db";  // as written; StorePath() resolves it
  friend bool operator==(const StoreConfig&, const StoreConfig&) = default;
};

struct ServerConfig {
  std::string file;      // the file it was read from ("" if built in code)
  std::string data_dir;  // absolute
  std::string hostname;
  ListenConfig device_api = {"0.0.0.0", 8443};
  ListenConfig operator_api = {"0.0.0.0", 8444};
  RelayConfig relay;
  SessionsConfig sessions;
  PolicyConfig policy;
  StoreConfig store;

  // relay.public_host, or hostname.
  std::string RelayPublicHost() const;
  // store.path, relative to data_dir unless absolute.
  std::string StorePath() const;

  // The settings, without `file`.
  bool SameSettings(const ServerConfig& o) const;
};

// Parses `text` as the file `file` (named in messages; data_dir defaults
// to its directory, made absolute against the working directory).
Result<ServerConfig> ParseServerConfig(std::string_view text,
                                       const std::string& file);

// Reads (at most 1 MiB) and parses `path`. A missing file is kNotFound
// "PATH: no such file (porthole-server init creates it)"; unreadable is
// kPermissionDenied / kIoError naming it.
// The director's lifetimes from [policy] (root: a year, renewed a month
// before).
director::DirectorOptions DirectorOptionsOf(const ServerConfig& config);

Result<ServerConfig> LoadServerConfig(const std::string& path);

// Every setting as TOML that ParseServerConfig reads back to the same
// settings (the effective configuration, for --check-config).
std::string FormatServerConfig(const ServerConfig& config);

// "30d", "1d12h", "1h30m", "0s": the shortest form ParseConfigDuration
// reads back exactly.
std::string FormatConfigDuration(config::Duration d);
// The text form above; errors quote the text.
Result<config::Duration> ParseConfigDuration(std::string_view text);

}  // namespace porthole::server

#endif  // PORTHOLE_SERVER_CONFIG_H_
