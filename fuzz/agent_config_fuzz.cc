// Fuzzes ParseAgentConfig() (porthole-agent's client.toml). The input is the
// file, optionally followed by a line "%%" and environment variables, one
// NAME=VALUE per line (so the RAC__/PORTHOLE__ overrides are fuzzed too).
// A failure must be one line; a config that loads must survive
// FormatAgentConfig() -> ParseAgentConfig() in both styles with the same
// settings and no notes, and the plain form must be a fixed point. The
// duration and URL parsers get the input as text too, with the same
// round-trip checks. A difference aborts.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/config/agent_config.h"

namespace {

using porthole::config::AgentConfig;
using porthole::config::ConfigStyle;
using porthole::config::Environment;

void CheckOneLine(const porthole::Status& s) {
  if (s.message().empty() || s.message().find('\n') != std::string::npos) {
    std::abort();
  }
}

void CheckRoundTrip(const AgentConfig& c) {
  std::string plain = FormatAgentConfig(c, ConfigStyle::kPlain);
  for (ConfigStyle style : {ConfigStyle::kPlain, ConfigStyle::kAnnotated}) {
    std::string text = FormatAgentConfig(c, style);
    auto back = porthole::config::ParseAgentConfig(text, "out.toml", {}, "/");
    if (!back.ok() || !back->SameSettings(c) || !back->notes.empty()) {
      std::abort();
    }
    if (FormatAgentConfig(*back, ConfigStyle::kPlain) != plain) std::abort();
    if (!porthole::config::ChangedSettings(c, *back).empty()) std::abort();
  }
  // The endpoints must not crash.
  const auto& tz = c.torizon;
  (void)tz.SessionsUrl();
  (void)tz.PublicKeysUrl();
  (void)tz.CommandsUrl();
  (void)tz.HostKeysUrl();
  (void)tz.CommandResultUrl("urn:tdx-ota:command:x");
  (void)tz.RootUrl();
  (void)tz.VersionedRootUrl(2);
  (void)tz.RemoteSessionsUrl();
  (void)c.Absolute(c.device.ssh_private_key_path);
}

void FuzzValueParsers(std::string_view text) {
  auto d = porthole::config::ParseDuration(text);
  if (d.ok()) {
    auto back =
        porthole::config::ParseDuration(porthole::config::FormatDuration(*d));
    if (!back.ok() || *back != *d) std::abort();
  } else {
    CheckOneLine(d.status());
  }
  auto u = porthole::config::Url::Parse(text);
  if (u.ok()) {
    auto back = porthole::config::Url::Parse(u->ToString());
    if (!back.ok() || *back != *u) std::abort();
    (void)u->Resolve(text).ToString();
  } else {
    CheckOneLine(u.status());
  }
  (void)porthole::config::ParseSocketAddress(text);
  (void)porthole::config::ParseUserGroup(text);
  (void)porthole::config::ParseUuid(text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::string_view file = input;
  Environment env;
  size_t sep = input.find("\n%%\n");
  if (sep != std::string_view::npos) {
    file = input.substr(0, sep + 1);
    std::string_view rest = input.substr(sep + 4);
    while (!rest.empty()) {
      size_t nl = rest.find('\n');
      std::string_view line = rest.substr(0, nl);
      rest = nl == std::string_view::npos ? "" : rest.substr(nl + 1);
      size_t eq = line.find('=');
      if (eq == std::string_view::npos) continue;
      env[std::string(line.substr(0, eq))] = std::string(line.substr(eq + 1));
    }
  }
  auto c = porthole::config::ParseAgentConfig(file, "in.toml", env, "/w");
  if (c.ok()) {
    CheckRoundTrip(*c);
  } else {
    CheckOneLine(c.status());
  }
  if (size <= 4096) FuzzValueParsers(input);
  return 0;
}
