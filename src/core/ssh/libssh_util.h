// Internal to core/ssh: owning pointers for libssh objects and the helpers
// the relay side (forwarding_server), the device side (reverse_tunnel) and
// the embedded server share. Not part of the library's interface.

#ifndef PORTHOLE_CORE_SSH_LIBSSH_UTIL_H_
#define PORTHOLE_CORE_SSH_LIBSSH_UTIL_H_

#include <libssh/libssh.h>
#include <libssh/server.h>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "core/base/c_ptr.h"
#include "core/base/status.h"
#include "core/keys/public_key.h"

namespace porthole::ssh::libssh {

using SessionPtr = CPtr<ssh_session_struct, ssh_free>;
using EventPtr = CPtr<ssh_event_struct, ssh_event_free>;
using BindPtr = CPtr<ssh_bind_struct, ssh_bind_free>;
using KeyPtr = CPtr<ssh_key_struct, ssh_key_free>;
// A string libssh allocated.
using Chars = CPtr<char, ssh_string_free_char>;

// At most this much per ssh_channel_read/ssh_channel_write call.
constexpr size_t kChunk = 64 * 1024;
// Rounds of work on one channel before the others get a turn.
constexpr int kPumpRounds = 16;

std::string ErrnoText(int err);

// The public key a peer offered or a key libssh holds.
Result<keys::PublicKey> KeyOf(ssh_key key);

// "session", "direct-tcpip", ...: the RFC 4254 name of a libssh channel
// type, for logs and refusals.
const char* ChannelTypeName(int type);

}  // namespace porthole::ssh::libssh

#endif  // PORTHOLE_CORE_SSH_LIBSSH_UTIL_H_
