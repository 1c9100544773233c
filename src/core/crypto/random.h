// Cryptographically secure random bytes (OpenSSL's RAND_bytes), and the
// identifiers made from them.
#ifndef PORTHOLE_CORE_CRYPTO_RANDOM_H_
#define PORTHOLE_CORE_CRYPTO_RANDOM_H_

#include <cstddef>
#include <string>

namespace porthole::crypto {

// `n` random bytes. Aborts if the system's generator fails (nothing safe
// can be done without one).
std::string RandomBytes(size_t n);

// A random (version 4) UUID, lower-case hyphenated.
std::string RandomUuidV4();

}  // namespace porthole::crypto

#endif  // PORTHOLE_CORE_CRYPTO_RANDOM_H_
