// Hashes and base64. The only folder that includes <openssl/...> is this one.
#ifndef PORTHOLE_CORE_CRYPTO_DIGEST_H_
#define PORTHOLE_CORE_CRYPTO_DIGEST_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/base/status.h"

namespace porthole::crypto {

using Sha256Digest = std::array<uint8_t, 32>;

Sha256Digest Sha256(std::string_view data);

// Lower-case hex of `data`.
std::string HexEncode(std::string_view data);
std::string HexEncode(const Sha256Digest& d);

// Standard base64 (RFC 4648 section 4). `pad` appends '=' padding.
std::string Base64Encode(std::string_view data, bool pad = true);

// Base64url (RFC 4648 section 5: '-' and '_' for '+' and '/'), no padding.
std::string Base64UrlEncode(std::string_view data);

// Strict standard base64: only A-Z a-z 0-9 + /, correct '=' padding, no
// whitespace, no non-zero trailing bits. Errors are kInvalidArgument with a
// short reason ("invalid base64 character", "bad base64 padding", ...).
Result<std::string> Base64Decode(std::string_view text);

// True if `point` (SEC1 uncompressed, 0x04 || X || Y, exactly 1 + 2 * field
// size bytes) lies on the named curve ("nistp256", "nistp384", "nistp521")
// and is not the point at infinity. It also applies the extra checks of
// sshd's sshkey_ec_validate_public() (coordinates longer than half the order
// and below order - 1, order * point == infinity), so a point accepted here
// is one sshd accepts. Unknown curve names give false.
bool IsValidEcPoint(std::string_view curve, std::string_view point);

}  // namespace porthole::crypto

#endif  // PORTHOLE_CORE_CRYPTO_DIGEST_H_
