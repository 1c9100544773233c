// porthole-agent's configuration: Torizon RAC's client.toml, read unchanged
// (PROTOCOL.md section 2), and written back for device bundles.
//
//   [torizon]                      url (required), director_url,
//                                  client_cert_path, client_key_path,
//                                  server_cert_path (required), namespace,
//                                  http_timeout
//   [device]                       ssh_private_key_path (required),
//                                  local_tuf_repo_path, poll_timeout,
//                                  validation_poll_timeout,
//                                  unprivileged_user_group,
//                                  enable_dbus_client, commands_dir,
//                                  commands_timeout
//   [device.session.spawned_sshd]  exactly one of these three (required)
//   [device.session.embedded]
//   [device.session.target_host]
//   [porthole]                     porthole's own keys (PortholeConfig below):
//                                  dbus_bus, long_poll_wait, link_timeout,
//                                  reboot_command, reboot_delay,
//                                  restart_service_command
//
// Defaults are RAC's (the member initialisers below). A Duration is
// `{ secs = N, nanos = M }` (both required), `[N, M]`, or porthole's text
// form "30s" (duration.h); a bare integer is an error. At most 2^63-1
// seconds, the most RAC's table form can hold.
//
// Unlike RAC, the loader is strict. An unknown key, a missing required key,
// no session mode or two of them, or a malformed value (duration, URL,
// namespace UUID, host_port, user:group) is one kInvalidArgument line:
//   "FILE:LINE: key 'device.poll_timeout': <reason>"
// For a missing key, LINE is that of the table that should hold it (no LINE
// when the table itself is missing). A value from the environment is named
// by its variable instead: "environment variable RAC__X: key 'a.b': ...".
// The checks run in this order, so that the first error names the likeliest
// cause: TOML syntax, variable names, unknown keys (in file order), then the
// values in the order listed above (the session mode right after
// validation_poll_timeout).
//
// Environment overrides: every variable named RAC__<PATH> or
// PORTHOLE__<PATH> (prefix matched case-insensitively, as RAC's config
// crate does) sets the key <path>: lower-cased, each "__" a '.'. For
// example RAC__DEVICE__POLL_TIMEOUT__SECS=5 sets device.poll_timeout.secs.
// Values are UTF-8 strings converted to the key's type (bools: true/false,
// also yes/no, on/off, 1/0; integers: decimal); a duration also takes the
// text form at its own name (PORTHOLE__DEVICE__POLL_TIMEOUT=1m). The
// environment wins over the file key by key; PORTHOLE__ wins over RAC__. A
// variable can add a session mode (then two modes is the error above). A
// variable naming no key is an error naming the variable, and so is one
// naming an argument vector (porthole.reboot_command,
// porthole.restart_service_command): those are set in the file only.
//
// The argument vectors are arrays of 1 to 64 strings, each without NUL,
// the first not empty; "{word}" inside an element must be a placeholder
// that key knows (kServicePlaceholder for restart_service_command, which
// must contain it; the two delay placeholders for reboot_command).
//
// url and director_url must be http(s) URLs with a host. Endpoints are built
// by RFC 3986 resolution (url.h), so a base needs its trailing '/': porthole
// appends a missing one and records a note (stock RAC would silently call
// the wrong path).
//
// Paths are kept as written; relative ones resolve against the working
// directory recorded at load (Absolute()), as RAC's do.
//
// Thread safety: the types are plain data; the functions only read their
// arguments (LoadAgentConfig() also reads files and logs through spdlog).
#ifndef PORTHOLE_CORE_CONFIG_AGENT_CONFIG_H_
#define PORTHOLE_CORE_CONFIG_AGENT_CONFIG_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/base/status.h"
#include "core/config/duration.h"
#include "core/config/url.h"

namespace porthole::config {

// An IP address and port: "127.0.0.1:22" or "[::1]:22". Host names are not
// accepted (RAC parses a Rust SocketAddr).
struct SocketAddress {
  std::string ip;  // canonical text, no brackets: "127.0.0.1", "::1"
  uint16_t port = 0;
  bool ipv6 = false;

  std::string ToString() const;  // "127.0.0.1:22", "[::1]:22"
  friend bool operator==(const SocketAddress&, const SocketAddress&) = default;
};
// Port 1..65535. The error quotes the text and shows the expected form.
Result<SocketAddress> ParseSocketAddress(std::string_view text);

// "user:group", names (RAC looks both up by name).
struct UserGroup {
  std::string user;
  std::string group;

  std::string ToString() const { return user + ":" + group; }
  friend bool operator==(const UserGroup&, const UserGroup&) = default;
};
Result<UserGroup> ParseUserGroup(std::string_view text);

// A UUID in any form Rust's uuid crate reads (hyphenated, 32 hex digits,
// {braced}, urn:uuid:...), returned lower-case hyphenated, as RAC sends it.
Result<std::string> ParseUuid(std::string_view text);

struct SpawnedSshdSession {
  std::string sshd_path = "/usr/sbin/sshd";
  std::string config_dir = "/run/rac";
  std::optional<std::string> host_key_path;

  // host_key_path, or <config_dir>/host_key_ed25519.
  std::string HostKeyPath() const;
  friend bool operator==(const SpawnedSshdSession&,
                         const SpawnedSshdSession&) = default;
};

struct EmbeddedSession {
  std::optional<std::string> server_key_path;
  std::string shell = "/bin/bash";
  friend bool operator==(const EmbeddedSession&,
                         const EmbeddedSession&) = default;
};

struct TargetHostSession {
  SocketAddress host_port = {"127.0.0.1", 22, false};
  std::string authorized_keys_path = "/home/torizon/.ssh/authorized_keys";
  friend bool operator==(const TargetHostSession&,
                         const TargetHostSession&) = default;
};

using SessionMode =
    std::variant<SpawnedSshdSession, EmbeddedSession, TargetHostSession>;

// "spawned_sshd", "embedded" or "target_host": the table name.
std::string_view SessionModeName(const SessionMode& mode);

struct TorizonConfig {
  Url url;                          // always ends with '/'
  std::optional<Url> director_url;  // as configured (then ends with '/')
  std::string client_cert_path;
  std::string client_key_path;
  std::string server_cert_path;
  std::optional<std::string> ats_namespace;  // key `namespace`, a UUID
  Duration http_timeout = Duration::Seconds(10);

  // director_url, or url with its path replaced by "/director/".
  Url Director() const;

  // The endpoints of PROTOCOL.md section 3.2, by RFC 3986 resolution.
  std::string PublicKeysUrl() const;  // {url}public-keys
  std::string SessionsUrl() const;    // {url}sessions
  std::string CommandsUrl() const;    // {url}commands
  // {url}host-keys: porthole-server's extension
  // (docs/device-api-extensions.md 3), not RAC's.
  std::string HostKeysUrl() const;
  // {url}commands/<urn>/result. `urn` must already be validated
  // ("urn:tdx-ota:command:<uuid>"); it is not escaped.
  std::string CommandResultUrl(std::string_view urn) const;
  std::string RootUrl() const;                           // {dir}root.json
  std::string VersionedRootUrl(uint64_t version) const;  // {dir}N.root.json
  std::string RemoteSessionsUrl() const;  // {dir}remote-sessions.json

  friend bool operator==(const TorizonConfig&, const TorizonConfig&) = default;
};

// The [porthole] table: settings stock RAC does not have. RAC ignores
// tables it does not know, so a client.toml carrying one still works with
// RAC; porthole reads it as strictly as the rest.
enum class DbusBus { kSession, kSystem };

// "session" or "system".
std::string_view DbusBusName(DbusBus bus);

// Placeholders of the argument vectors. Each element of a vector stays one
// argv element (never split, never a shell); a placeholder is replaced
// wherever it occurs inside an element.
inline constexpr std::string_view kServicePlaceholder = "{service}";
inline constexpr std::string_view kDelaySecondsPlaceholder = "{delay_seconds}";
inline constexpr std::string_view kDelayMinutesPlaceholder = "{delay_minutes}";

inline constexpr Duration kLinkKeepalive = Duration::Seconds(2);
inline constexpr Duration kMinLinkTimeout = Duration::Seconds(4);
inline constexpr Duration kMaxLinkTimeout = Duration::Seconds(3600);

struct PortholeConfig {
  // Where enable_dbus_client listens and org.porthole.Agent is served:
  // "session" (RAC's only choice) or "system".
  DbusBus dbus_bus = DbusBus::kSession;
  // The longest long poll (docs/device-api-extensions.md 2) the agent asks
  // for when the server announces the extension: whole seconds, capped by
  // the server's maximum and, while a session is re-validated, by
  // validation_poll_timeout. Under 1 s: never long-poll.
  Duration long_poll_wait = Duration::Seconds(25);
  // The relay link is declared dead, and the tunnel made again, when
  // nothing has come from the relay for this long (keepalives go every
  // kLinkKeepalive; TCP_USER_TIMEOUT is the same). Longer rides out worse
  // links (heavy loss stalls TCP in retransmission back-off) at the price
  // of noticing a cut later. kMinLinkTimeout..kMaxLinkTimeout.
  Duration link_timeout = Duration::Seconds(8);
  // `reboot`: {delay_seconds} and {delay_minutes} are reboot_delay in whole
  // seconds and in whole minutes, both rounded up. The default works with
  // systemd 252 (Debian 12) as well as newer ones and without systemd:
  // `systemctl reboot --when=` needs systemd >= 254.
  std::vector<std::string> reboot_command = {"sudo", "-n", "shutdown", "-r",
                                             "+{delay_minutes}"};
  Duration reboot_delay = Duration::Seconds(60);
  // `restart-service NAME`: must contain {service}, which becomes NAME.
  std::vector<std::string> restart_service_command = {"sudo", "-n", "systemctl",
                                                      "restart", "{service}"};

  friend bool operator==(const PortholeConfig&,
                         const PortholeConfig&) = default;
};

struct DeviceConfig {
  std::string ssh_private_key_path;
  std::string local_tuf_repo_path = "uptane-repo";
  Duration poll_timeout = Duration::Seconds(3);
  Duration validation_poll_timeout = Duration::Seconds(3);
  SessionMode session;
  std::optional<UserGroup> unprivileged_user_group;
  bool enable_dbus_client = false;
  std::string commands_dir = "commands";
  Duration commands_timeout = Duration::Seconds(30);

  friend bool operator==(const DeviceConfig&, const DeviceConfig&) = default;
};

// Where a value came from.
enum class Origin {
  kDefault,      // not set anywhere: the built-in default
  kFile,         // detail: "FILE:LINE"
  kEnvironment,  // detail: the variable(s), e.g. "RAC__DEVICE__SHELL"
  kDerived,      // detail: what from, e.g. "url" for director_url
};
struct ValueOrigin {
  Origin origin = Origin::kDefault;
  std::string detail;
};

struct AgentConfig {
  TorizonConfig torizon;
  DeviceConfig device;
  PortholeConfig porthole;

  // Filled by the loader; empty for a config built in code.
  std::string file;  // the file it was read from
  std::string cwd;   // relative paths resolve against this
  // By dotted key ("device.poll_timeout"); absent keys are kDefault.
  std::map<std::string, ValueOrigin, std::less<>> origins;
  // What porthole adjusted, one line each, e.g. an appended trailing '/'.
  std::vector<std::string> notes;

  ValueOrigin OriginOf(std::string_view key) const;
  // `path` if absolute, else cwd/path (path itself when cwd is empty).
  std::string Absolute(const std::string& path) const;

  // The configuration proper, without provenance.
  bool SameSettings(const AgentConfig& other) const {
    return torizon == other.torizon && device == other.device &&
           porthole == other.porthole;
  }
};

// The dotted keys whose settings differ between `a` and `b`
// ("device.poll_timeout"; "device.session" for another mode): those of `b`
// in file order, then those only `a` has. Empty when a.SameSettings(b).
std::vector<std::string> ChangedSettings(const AgentConfig& a,
                                         const AgentConfig& b);

// Environment variables by name.
using Environment = std::map<std::string, std::string, std::less<>>;

// This process's environment.
Environment ProcessEnvironment();

// Parses `text` as the config file named `file` (in messages), then applies
// the overrides in `env`. `cwd` is recorded for Absolute(). Never logs.
Result<AgentConfig> ParseAgentConfig(std::string_view text,
                                     const std::string& file,
                                     const Environment& env = {},
                                     const std::string& cwd = "");

struct LoadOptions {
  // --config FILE; empty: $CONFIG_FILE, then the search path.
  std::string config_file;
  // CONFIG_FILE, DEBUG_CONFIG and the RAC__/PORTHOLE__ overrides.
  Environment env;
  // Tried in order when neither config_file nor CONFIG_FILE is set.
  std::vector<std::string> search_path = {
      "/etc/porthole/agent.toml", "/etc/rac/client.toml", "client.toml"};
  // Relative paths (of the file and in it) resolve here; empty: getcwd().
  std::string cwd;
};

// The file LoadAgentConfig() reads. --config FILE or $CONFIG_FILE must exist
// (FILE, else FILE.toml, as RAC's config crate tries); otherwise the first
// search_path entry that exists. Relative names are joined to cwd. Nothing
// found is kNotFound naming every place looked at.
Result<std::string> FindAgentConfigFile(const LoadOptions& options);

// FindAgentConfigFile + read (at most 1 MiB) + ParseAgentConfig. Logs each
// note as a warning, and with DEBUG_CONFIG=true the annotated config at
// debug level. Errors: kNotFound (no file), kPermissionDenied / kIoError
// (unreadable), kInvalidArgument (everything about the contents).
Result<AgentConfig> LoadAgentConfig(const LoadOptions& options);

enum class ConfigStyle {
  // RAC's format as stock RAC reads it: every set key, durations as
  // { secs, nanos }, unset optional keys left out, the [porthole] table
  // only when a key of it differs from its default. For device bundles.
  kPlain,
  // The same TOML, plus comments: the file, the notes, and per key whether
  // it is a default, derived, or from the environment, the duration in text
  // form and the absolute form of relative paths. --check-config prints it.
  kAnnotated,
};

// Reading the result back gives a config with the same settings.
std::string FormatAgentConfig(const AgentConfig& config, ConfigStyle style);

}  // namespace porthole::config

#endif  // PORTHOLE_CORE_CONFIG_AGENT_CONFIG_H_
