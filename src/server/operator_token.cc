#include "server/operator_token.h"

#include "core/crypto/digest.h"
#include "core/crypto/random.h"

namespace porthole::server {

std::string GenerateOperatorToken() {
  return std::string(kOperatorTokenPrefix) +
         crypto::Base64UrlEncode(crypto::RandomBytes(32));
}

std::string OperatorTokenSha256(std::string_view token) {
  return crypto::HexEncode(crypto::Sha256(token));
}

bool LooksLikeOperatorToken(std::string_view token) {
  if (token.size() != kOperatorTokenLength ||
      !token.starts_with(kOperatorTokenPrefix)) {
    return false;
  }
  for (char c : token.substr(kOperatorTokenPrefix.size())) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

}  // namespace porthole::server
