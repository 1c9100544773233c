// The OpenSSH private key file format ("openssh-key-v1", OpenSSH's
// PROTOCOL.key), unencrypted keys only: the PEM-style armour
//
//   -----BEGIN OPENSSH PRIVATE KEY-----
//   base64, 70 columns
//   -----END OPENSSH PRIVATE KEY-----
//
// around  "openssh-key-v1\0" string(cipher) string(kdf) string(kdfoptions)
// uint32(1) string(public key blob) string(private section), where the
// private section is  uint32 check, uint32 check, string(type), the type's
// key fields, string(comment), then padding bytes 1, 2, 3, ... up to a
// multiple of 8.
//
// This codec only frames; it never looks inside key material (libssh does).
// It exists because libssh 0.10 neither reads nor writes the comment.
// Pure functions, thread-safe.
#ifndef PORTHOLE_CORE_SSH_OPENSSH_KEY_FORMAT_H_
#define PORTHOLE_CORE_SSH_OPENSSH_KEY_FORMAT_H_

#include <string>
#include <string_view>

#include "core/base/status.h"

namespace porthole::ssh {

struct OpensshPrivateKey {
  std::string public_blob;  // the header's copy of the public key
  std::string key_type;     // "ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256"
  // The private section up to (excluding) the comment: check ints, type and
  // key fields, exactly as stored.
  std::string private_fields;
  std::string comment;
};

// Parses an unencrypted OpenSSH private key file. Key types whose private
// fields it can delimit: ssh-ed25519, ssh-rsa, ecdsa-sha2-nistp{256,384,521},
// ssh-dss. Errors (messages name no file; the caller adds it):
//   kInvalidArgument  "not an OpenSSH private key" (other armour or none),
//                     "unsupported key type 'X'"
//   kFailedPrecondition  "encrypted with a passphrase (cipher X)"
//   kCorrupt          "malformed OpenSSH private key: REASON"
Result<OpensshPrivateKey> ParseOpensshPrivateKey(std::string_view text);

// The file text (armour, base64 at 70 columns, LF line ends, final LF) for
// `key`, with `key.comment` and fresh padding. Parse(Serialize(k)) == k.
std::string SerializeOpensshPrivateKey(const OpensshPrivateKey& key);

}  // namespace porthole::ssh

#endif  // PORTHOLE_CORE_SSH_OPENSSH_KEY_FORMAT_H_
