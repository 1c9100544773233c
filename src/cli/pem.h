// PEM certificate bundles (a CA file, the `ca` of operator.toml).
#ifndef PORTHOLE_CLI_PEM_H_
#define PORTHOLE_CLI_PEM_H_

#include <string>
#include <string_view>
#include <vector>

#include "core/base/status.h"

namespace porthole::cli {

// Every "CERTIFICATE" PEM block of `text`, decoded to DER, in order. Text
// between blocks is allowed (comments, as openssl writes them); a block
// that does not decode, a block of another label, or no block at all is
// kInvalidArgument. At most 64 blocks.
Result<std::vector<std::string>> SplitPemCertificates(std::string_view text);

// The lower-case hex SHA-256 of `der`.
std::string CertificateSha256(std::string_view der);

// A pin as the operator types it: 64 hex digits, either case, optionally
// in pairs separated by ':' (as `openssl x509 -fingerprint -sha256` prints
// it, with or without its "sha256 Fingerprint=" prefix). Lower-case hex, or
// kInvalidArgument.
Result<std::string> NormalizeSha256Pin(std::string_view text);

}  // namespace porthole::cli

#endif  // PORTHOLE_CLI_PEM_H_
