// OpenSSH key revocation lists (sshd_config RevokedKeys), written with the
// real ssh-keygen so sshd reads exactly its own format.
#ifndef PORTHOLE_CORE_KEYS_KRL_H_
#define PORTHOLE_CORE_KEYS_KRL_H_

#include <string>
#include <vector>

#include "core/base/status.h"
#include "core/keys/public_key.h"

namespace porthole::keys {

// Replaces the KRL at `path` with one revoking exactly `keys` (by SHA256
// fingerprint, which covers certificates of those keys too); an empty list
// gives an empty KRL (a missing RevokedKeys file makes sshd refuse every
// key). Atomic: the old KRL stays on any failure. New files are mode 0644.
Status WriteKrl(const std::string& path, const std::vector<PublicKey>& keys,
                const std::string& ssh_keygen = "ssh-keygen");

// Whether the KRL at `path` revokes `key` (ssh-keygen -Q).
Result<bool> KrlRevokes(const std::string& path, const PublicKey& key,
                        const std::string& ssh_keygen = "ssh-keygen");

}  // namespace porthole::keys

#endif  // PORTHOLE_CORE_KEYS_KRL_H_
