// Operator API tokens: "pht_" + 43 characters of base64url (32 random
// bytes). The server keeps only the lower-case hex SHA-256 of the whole
// token text (prefix included): `porthole-server token create` stores it,
// the operator API hashes what a client presents and looks it up
// (Store::FindToken). Stateless; any thread.
#ifndef PORTHOLE_SERVER_OPERATOR_TOKEN_H_
#define PORTHOLE_SERVER_OPERATOR_TOKEN_H_

#include <string>
#include <string_view>

namespace porthole::server {

inline constexpr std::string_view kOperatorTokenPrefix = "pht_";
inline constexpr size_t kOperatorTokenLength = 4 + 43;

// A new random token.
std::string GenerateOperatorToken();

// The hex SHA-256 the store keeps for `token`.
std::string OperatorTokenSha256(std::string_view token);

// The prefix followed by exactly 43 base64url characters (a cheap check
// before hashing what a client sent).
bool LooksLikeOperatorToken(std::string_view token);

}  // namespace porthole::server

#endif  // PORTHOLE_SERVER_OPERATOR_TOKEN_H_
