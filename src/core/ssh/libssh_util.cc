#include "core/ssh/libssh_util.h"

#include <system_error>

#include "core/crypto/digest.h"

namespace porthole::ssh::libssh {

std::string ErrnoText(int err) { return std::generic_category().message(err); }

Result<keys::PublicKey> KeyOf(ssh_key key) {
  // libssh 0.10 exports a public key blob only as base64.
  char* b64 = nullptr;
  if (key == nullptr || ssh_pki_export_pubkey_base64(key, &b64) != SSH_OK ||
      b64 == nullptr) {
    return Status::Corrupt("libssh cannot export the offered key");
  }
  Chars owned(b64);
  PH_ASSIGN_OR_RETURN(std::string blob, crypto::Base64Decode(owned.get()));
  return keys::ParsePublicKeyBlob(blob);
}

const char* ChannelTypeName(int type) {
  switch (type) {
    case SSH_CHANNEL_SESSION:
      return "session";
    case SSH_CHANNEL_DIRECT_TCPIP:
      return "direct-tcpip";
    case SSH_CHANNEL_FORWARDED_TCPIP:
      return "forwarded-tcpip";
    case SSH_CHANNEL_X11:
      return "x11";
    case SSH_CHANNEL_AUTH_AGENT:
      return "auth-agent@openssh.com";
    default:
      return "unknown";
  }
}

}  // namespace porthole::ssh::libssh
