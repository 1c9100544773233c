// Test helpers for core/tuf: RAC's vectors by path, RAC's signing keys, a
// fake fetcher and builders for forged metadata. Tests only (needs the
// PORTHOLE_SHARED_DIR definition that porthole_test() sets).
#ifndef PORTHOLE_CORE_TUF_TEST_FIXTURES_H_
#define PORTHOLE_CORE_TUF_TEST_FIXTURES_H_

#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "core/base/file.h"
#include "core/tuf/loader.h"
#include "core/tuf/rfc3339.h"
#include "core/tuf/signer.h"

namespace porthole::tuf::fixtures {

inline std::string RacDir() {
  return std::string(PORTHOLE_SHARED_DIR) + "/testdata/rac";
}

inline std::string RacPath(const std::string& name) {
  return RacDir() + "/" + name;
}

// The bytes of a vector file; aborts if it is missing (a broken checkout).
inline std::string ReadRac(const std::string& name) {
  Result<std::string> data = ReadFile(RacPath(name), 1 << 20);
  if (!data.ok()) std::abort();
  return std::move(*data);
}

inline SystemTime Time(const std::string& text) {
  Result<SystemTime> t = ParseRfc3339(text);
  if (!t.ok()) std::abort();
  return *t;
}

// "Now" for the vectors: before both expiries (2034-02-08, 2034-03-12).
inline SystemTime VectorNow() { return Time("2025-07-30T16:00:00Z"); }

// The ED25519 root key of root-rsa.json (root-keys.json).
inline const Signer& RacRootKey() {
  static const Signer* key =
      new Signer(Signer::FromKeyFile(ReadRac("root-keys.json")).value());
  return *key;
}

// The RSA key of the remote-sessions role (remote-sessions-key.sec).
inline const Signer& RacRemoteSessionsKey() {
  static const Signer* key = new Signer(
      Signer::FromKeyFile(ReadRac("remote-sessions-key.sec")).value());
  return *key;
}

// Serves a map of names to results; anything else is kNotFound. Records
// every name asked for.
class FakeFetcher : public MetadataFetcher {
 public:
  FetchResult Fetch(const std::string& name, size_t) override {
    requests.push_back(name);
    auto it = files.find(name);
    return it == files.end() ? FetchResult::NotFound() : it->second;
  }
  void Serve(const std::string& name, std::string body) {
    files[name] = FetchResult::Found(std::move(body));
  }

  std::map<std::string, FetchResult> files;
  std::vector<std::string> requests;
};

// A root spec with `root_keys` for role root (threshold `root_threshold`)
// and `rs_keys` for remote-sessions (threshold 1).
inline RootSpec MakeRootSpec(uint64_t version, SystemTime expires,
                             const std::vector<const Signer*>& root_keys,
                             const std::vector<const Signer*>& rs_keys,
                             uint64_t root_threshold = 1) {
  RootSpec spec;
  spec.version = version;
  spec.expires = expires;
  for (const Signer* s : root_keys) spec.AddRoleKey("root", *s);
  for (const Signer* s : rs_keys) spec.AddRoleKey("remote-sessions", *s);
  spec.roles["root"].threshold = root_threshold;
  return spec;
}

inline std::string SignedText(const Json& signed_value,
                              const std::vector<const Signer*>& signers) {
  return SignMetadataText(signed_value, signers).value();
}

inline std::string RootText(const RootSpec& spec,
                            const std::vector<const Signer*>& signers) {
  return SignedText(BuildRoot(spec), signers);
}

// A remote-sessions document allowing `authorized` client keys, the
// `hosts`, and relay keys `relay_keys`.
inline RemoteSessionsSpec MakeRemoteSessionsSpec(
    uint64_t version, SystemTime expires,
    std::vector<std::string> authorized = {},
    std::vector<std::string> hosts = {"localhost"},
    std::vector<std::string> relay_keys = {}) {
  RemoteSessionsSpec spec;
  spec.version = version;
  spec.expires = expires;
  spec.authorized_keys = std::move(authorized);
  spec.ra_server_hosts = std::move(hosts);
  spec.ra_server_ssh_pubkeys = std::move(relay_keys);
  return spec;
}

inline std::string RemoteSessionsText(
    const RemoteSessionsSpec& spec, const std::vector<const Signer*>& signers) {
  return SignedText(BuildRemoteSessions(spec).value(), signers);
}

}  // namespace porthole::tuf::fixtures

#endif  // PORTHOLE_CORE_TUF_TEST_FIXTURES_H_
