// The `porthole keys` operations on this machine's files (HOST "self").
//
// Every change to a tier file is a read-modify-replace under an exclusive
// lock on the file's directory, written with AtomicReplace: concurrent
// operations serialise, and any failure leaves the file as it was. Messages
// for people are appended to `out`; errors name the file.
#ifndef PORTHOLE_CLI_KEYS_OPS_H_
#define PORTHOLE_CLI_KEYS_OPS_H_

#include <optional>
#include <string>
#include <vector>

#include "core/base/clock.h"
#include "core/base/status.h"
#include "core/keys/authorized_key.h"
#include "core/keys/catalogue.h"
#include "core/keys/keys_config.h"

namespace porthole::cli {

struct KeysContext {
  keys::KeysConfig config;
  keys::Catalogue catalogue;
  const Clock* clock = &Clock::Real();
  std::string ssh_keygen = "ssh-keygen";
  // Things the user should know that do not fail the operation (e.g. a file
  // sshd's StrictModes would ignore); the caller prints them on stderr.
  mutable std::vector<std::string> warnings;
};

// A KEY|ID argument resolved to a line.
struct KeyArg {
  keys::AuthorizedKey line;
  std::string id;  // catalogue ID, if it came from or matches one
};

enum class RevokedPolicy { kRefuse, kAllow };

// Resolves ID (catalogue known or revoked), a path to a public key file, or an
// authorized_keys line. With kRefuse a revoked key, by line or by ID, is
// kFailedPrecondition. Malformed input is kInvalidArgument.
Result<KeyArg> ResolveKeyArg(const keys::Catalogue& catalogue,
                             const std::string& arg, RevokedPolicy revoked);

// add: VALID_FOR as given by the user ("1h", "forever"); tier defaults to
// temporary for timed keys and customer for forever.
Status KeysAdd(const KeysContext& ctx, const KeyArg& key,
               const std::string& valid_for, std::optional<keys::Tier> tier,
               std::string* out);
Status KeysSet(const KeysContext& ctx, keys::Tier tier,
               const std::vector<KeyArg>& keys, std::string* out);
Status KeysRemove(const KeysContext& ctx, const KeyArg& key, std::string* out);
Status KeysRemoveRevoked(const KeysContext& ctx, std::string* out);
Status KeysList(const KeysContext& ctx, bool json, std::string* out);
Status KeysClear(const KeysContext& ctx, std::string* out);
Status KeysPrune(const KeysContext& ctx, std::string* out);
Status KeysInstallSshdConfig(const KeysContext& ctx, const std::string& output,
                             std::string* out);
// Rewrites the KRL from the catalogue's revoked keys.
Status KeysSyncKrl(const KeysContext& ctx, std::string* out);

// The files `verb` writes (or reads, for list), for the sudo decision.
std::vector<std::string> KeysFilesTouched(const KeysContext& ctx,
                                          const std::string& verb,
                                          std::optional<keys::Tier> tier);

}  // namespace porthole::cli

#endif  // PORTHOLE_CLI_KEYS_OPS_H_
