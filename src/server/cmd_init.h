// `porthole-server init --data-dir DIR --hostname NAME [--force]`: creates a
// data directory (data_dir.h): the server CA and the HTTPS certificate for
// NAME (a DNS name or an IP address), the device CA, the relay's SSH host
// key, server.toml, the store, and a first operator token "admin", printed
// once with the `porthole login` command to use it.
//
// Nothing is half-written: everything is made in DIR.init-XXXXXX beside DIR
// and renamed into place at the end (removed on any failure). DIR may be
// missing or an empty directory. A DIR that is already initialised (it has
// server.toml) is refused unless --force, which keeps the old one as
// DIR.replaced-<UTC time> (stop the server first). Any other non-empty DIR
// is refused.
#ifndef PORTHOLE_SERVER_CMD_INIT_H_
#define PORTHOLE_SERVER_CMD_INIT_H_

#include <string>

#include "core/base/clock.h"
#include "core/base/status.h"
#include "server/cli_common.h"

namespace porthole::server {

struct InitOptions {
  std::string data_dir;  // made absolute
  std::string hostname;
  bool force = false;
};

struct InitResult {
  std::string data_dir;          // absolute
  std::string token;             // the admin token's secret
  std::string server_ca_sha256;  // hex SHA-256 of tls/ca.pem's DER
  std::string login_command;     // porthole login https://... --token ...
  std::string replaced;          // where --force moved the old dir, or ""
};

// The work of the command, without printing. Errors: kInvalidArgument for a
// bad hostname; kAlreadyExists for an initialised DIR without --force;
// kFailedPrecondition for a non-empty DIR that is not a data dir; I/O
// errors naming the path.
Result<InitResult> InitDataDir(const InitOptions& options,
                               const Clock& clock = Clock::Real());

// What init prints: where, the CA pin, the token (once), how to log in.
std::string FormatInitSummary(const InitResult& result,
                              const std::string& hostname);

CommandAction SetupInit(CLI::App* sub, const GlobalOptions* global);

}  // namespace porthole::server

#endif  // PORTHOLE_SERVER_CMD_INIT_H_
