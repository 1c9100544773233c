// Which SSH key the operator uses: `--key FILE`, or the first of the
// user's own keys that the server's signed policy allows.
//
// Keys are compared by key material (the blob), never by comment. Only plain
// public keys take part (certificates are skipped: sessions list plain keys).
#ifndef PORTHOLE_CLI_OPERATOR_KEYS_H_
#define PORTHOLE_CLI_OPERATOR_KEYS_H_

#include <string>
#include <vector>

#include "core/base/status.h"
#include "core/keys/public_key.h"

namespace porthole::cli {

struct OperatorKey {
  std::string line;  // "TYPE BASE64 [comment]", as read
  keys::PublicKey key;
  std::string source;         // the file it came from, or "ssh-agent"
  std::string identity_file;  // what to give ssh -i; "" for agent-only keys
};

// `--key FILE`: FILE is a public key file, or a private key file next to
// which FILE.pub holds its public half. identity_file is the private key
// when it exists, else the .pub (ssh then uses the agent's private half).
// Errors name the file: kNotFound (no FILE, or a private key without
// FILE.pub: "ssh-keygen -y -f FILE > FILE.pub"), kInvalidArgument for a
// file that is not a key, or a certificate.
Result<OperatorKey> LoadKeyArg(const std::string& path);

// The user's candidates in order: `ssh_dir`/id_*.pub (sorted by name; files
// that do not parse are skipped with a line in `warnings`), then the
// identities of `agent_lines` (the output of `ssh-add -L`), each once.
std::vector<OperatorKey> CandidateKeys(const std::string& ssh_dir,
                                       const std::string& agent_lines,
                                       std::vector<std::string>* warnings);

// `ssh-add -L`'s output, or "" when there is no agent or it holds nothing.
std::string AgentIdentities();

// The first candidate whose key material equals one of `allowed` (key
// lines; lines that do not parse are ignored). kFailedPrecondition when
// none is allowed, listing the fingerprints tried (or saying there were
// none) and what to do.
Result<OperatorKey> SelectAllowedKey(const std::vector<OperatorKey>& candidates,
                                     const std::vector<std::string>& allowed);

// True if `line` is the same key (by material) as one of `lines`.
bool ContainsKey(const std::vector<std::string>& lines,
                 const keys::PublicKey& key);

}  // namespace porthole::cli

#endif  // PORTHOLE_CLI_OPERATOR_KEYS_H_
