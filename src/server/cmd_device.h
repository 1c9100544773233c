// `porthole-server device add|list|show|remove`.
//
//   device add NAME [--csr FILE] [--out DIR] [--device-dir PATH]
//       A new device (random UUID v4) with a certificate from the device CA,
//       for a key generated here (the bundle gets pkey.pem, 0600) or the
//       public key of a CSR the device made (no key in the bundle). Writes
//       the bundle directory DIR (default ./NAME, mode 0700; refuses an
//       existing one) as device_bundle.h describes, with paths under
//       --device-dir (default /etc/porthole), then records the device
//       (certificate SHA-256, serial, notAfter). Everything is checked
//       before anything is written; the bundle appears whole (rename) and
//       is removed again if the store refuses the device.
//   device list [--json] [--all]      devices (--all: also removed ones)
//   device show NAME|UUID [--json]
//   device remove NAME|UUID           marks it removed: its live session
//                                     ends and the device API refuses its
//                                     certificate from the next request
#ifndef PORTHOLE_SERVER_CMD_DEVICE_H_
#define PORTHOLE_SERVER_CMD_DEVICE_H_

#include <string>

#include <nlohmann/json.hpp>

#include "core/base/clock.h"
#include "core/base/status.h"
#include "server/cli_common.h"
#include "server/store/store.h"

namespace porthole::server {

struct DeviceAddOptions {
  std::string name;
  std::string csr_file;    // "" = generate a key
  std::string out_dir;     // "" = ./NAME
  std::string device_dir;  // "" = /etc/porthole
};

struct DeviceAddResult {
  Device device;
  std::string out_dir;  // absolute
  bool wrote_key = false;
};

// The work of `device add`. Errors: kInvalidArgument for a bad name,
// --device-dir or CSR (naming the file); kAlreadyExists for a name in use
// or an existing bundle directory; I/O and store errors naming the path.
Result<DeviceAddResult> AddDeviceWithBundle(const ServerConfig& config,
                                            Store& store,
                                            const DeviceAddOptions& options,
                                            const Clock& clock = Clock::Real());

// The JSON object `device list/show --json` print for `d`.
nlohmann::json DeviceJson(const Device& d);

CommandAction SetupDevice(CLI::App* sub, const GlobalOptions* global);

}  // namespace porthole::server

#endif  // PORTHOLE_SERVER_CMD_DEVICE_H_
