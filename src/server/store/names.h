// The names people give things on porthole-server: devices and operator
// tokens. One rule, shared by the admin CLI, the operator API and the store
// (which refuses anything else):
//
//   [A-Za-z0-9][A-Za-z0-9._-]{0,62}
//
// A device name must also not be UUID-shaped (any form config::ParseUuid
// reads), so that "device show X" never has to guess whether X is a name or
// an id. Stateless; any thread.
#ifndef PORTHOLE_SERVER_STORE_NAMES_H_
#define PORTHOLE_SERVER_STORE_NAMES_H_

#include <string_view>

#include "core/base/status.h"

namespace porthole::server {

inline constexpr size_t kMaxNameLength = 63;

// kInvalidArgument, one line quoting the name (made printable):
//   "invalid device name 'a b': use 1-63 letters, digits, '.', '_' and '-',
//    starting with a letter or digit"
//   "invalid device name '1b4e...': a device name must not look like a
//    device id (UUID)"
Status ValidateDeviceName(std::string_view name);

// The same rule for operator token names ("invalid token name ...").
Status ValidateTokenName(std::string_view name);

}  // namespace porthole::server

#endif  // PORTHOLE_SERVER_STORE_NAMES_H_
