// What every `porthole-server` admin command shares: the global options,
// loading the configuration and opening the store, and printing errors as
// one line with the process exit code (core/base/exit_code.h: 2 for
// malformed input, 1 for anything else that failed).
//
// Admin commands run while the server runs: the store is SQLite in WAL mode
// and the server notices their changes through Store::ChangeStamp().
#ifndef PORTHOLE_SERVER_CLI_COMMON_H_
#define PORTHOLE_SERVER_CLI_COMMON_H_

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/base/clock.h"
#include "core/base/status.h"
#include "server/config.h"
#include "server/data_dir.h"
#include "server/store/store.h"

namespace CLI {
class App;
}

namespace porthole::server {

struct GlobalOptions {
  std::string config_file;  // --config; "" = DATA_DIR/server.toml
  std::string data_dir = kDefaultDataDir;  // --data-dir
  bool check_config = false;               // --check-config

  // --config, or DATA_DIR/server.toml.
  std::string ConfigPath() const;
};

// One subcommand of the table in main.cc: `setup` adds its options (and
// sub-subcommands) to `sub` and returns what runs it once parsed. The
// returned function gives the exit code.
using CommandAction = std::function<int()>;
struct CommandSpec {
  const char* name;
  const char* summary;
  CommandAction (*setup)(CLI::App* sub, const GlobalOptions* global);
};

// Prints "porthole-server: MESSAGE" on stderr; returns ExitCodeFor(s).
int Fail(const Status& s);

// The configuration the global options name.
Result<ServerConfig> LoadConfig(const GlobalOptions& global);

// Opens the store the configuration names.
Result<std::unique_ptr<Store>> OpenStore(const ServerConfig& config);

// "2026-12-04T05:00:00Z" (seconds), or "-" for nullopt.
std::string FormatTime(SystemTime t);
std::string FormatTime(const std::optional<SystemTime>& t);

// Writes `text` to stdout.
void Print(const std::string& text);

// Certificates the admin commands issue start this long before now: the
// clocks of freshly booted devices lag.
inline constexpr auto kCertBackdate = std::chrono::hours(1);

// Replaces `path` with `text` atomically; a new file gets `mode`.
Status WriteFileMode(const std::string& path, std::string_view text,
                     mode_t mode);

// Removes a directory tree when it goes out of scope, unless released: what
// a failed command half-wrote does not stay behind.
class RemoveOnExit {
 public:
  explicit RemoveOnExit(std::string path) : path_(std::move(path)) {}
  ~RemoveOnExit();
  RemoveOnExit(const RemoveOnExit&) = delete;
  RemoveOnExit& operator=(const RemoveOnExit&) = delete;
  void Release() { path_.clear(); }

 private:
  std::string path_;
};

}  // namespace porthole::server

#endif  // PORTHOLE_SERVER_CLI_COMMON_H_
