// Cryptographically secure randomness (OpenSSL's DRBG): key material,
// secrets, certificate serials and UUIDs. Safe from any thread. The DRBG
// failing is a broken invariant: the process aborts rather than hand out
// predictable bytes.
#ifndef PORTHOLE_CORE_CRYPTO_RANDOM_H_
#define PORTHOLE_CORE_CRYPTO_RANDOM_H_

#include <cstddef>
#include <string>

namespace porthole::crypto {

// `n` random bytes.
std::string RandomBytes(size_t n);

// A random (version 4, RFC 9562) UUID, lower-case hyphenated:
// "1b4e28ba-2fa1-4d2e-883f-0016d3cca427".
std::string RandomUuidV4();

}  // namespace porthole::crypto

#endif  // PORTHOLE_CORE_CRYPTO_RANDOM_H_
