#include "server/cli_common.h"

#include <cstdio>
#include <filesystem>
#include <system_error>

#include "core/base/exit_code.h"
#include "core/base/file.h"
#include "core/tuf/rfc3339.h"

namespace porthole::server {

std::string GlobalOptions::ConfigPath() const {
  if (!config_file.empty()) return config_file;
  std::string dir = data_dir;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return dir + "/" + kConfigFileName;
}

int Fail(const Status& s) {
  std::fprintf(stderr, "porthole-server: %s\n", s.message().c_str());
  return ExitCodeFor(s);
}

Result<ServerConfig> LoadConfig(const GlobalOptions& global) {
  return LoadServerConfig(global.ConfigPath());
}

Result<std::unique_ptr<Store>> OpenStore(const ServerConfig& config) {
  // ParseServerConfig admits only the backends this build has.
  return OpenSqliteStore(config.StorePath());
}

std::string FormatTime(SystemTime t) {
  return tuf::FormatRfc3339(std::chrono::floor<std::chrono::seconds>(t));
}

std::string FormatTime(const std::optional<SystemTime>& t) {
  return t ? FormatTime(*t) : "-";
}

void Print(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
}

Status WriteFileMode(const std::string& path, std::string_view text,
                     mode_t mode) {
  return AtomicReplace(path, text, ReplaceOptions::NewMode(mode));
}

RemoveOnExit::~RemoveOnExit() {
  if (!path_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
}

}  // namespace porthole::server
