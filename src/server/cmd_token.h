// `porthole-server token create|list|revoke`: operator API tokens
// (operator_token.h).
//
//   token create NAME      prints the new token once on stdout (only its
//                          SHA-256 is stored); NAME must be unused among
//                          unrevoked tokens
//   token list [--json]    name, created, revoked, SHA-256
//   token revoke NAME      the API refuses it from the next request
#ifndef PORTHOLE_SERVER_CMD_TOKEN_H_
#define PORTHOLE_SERVER_CMD_TOKEN_H_

#include "server/cli_common.h"

namespace porthole::server {

CommandAction SetupToken(CLI::App* sub, const GlobalOptions* global);

}  // namespace porthole::server

#endif  // PORTHOLE_SERVER_CMD_TOKEN_H_
