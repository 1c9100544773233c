// Fuzzes the GET sessions body (RAC's DeviceSession JSON), the relay URL
// parser and the session check against a fixed remote-sessions policy.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/tuf/json.h"
#include "core/tuf/remote_sessions.h"
#include "core/tuf/session_check.h"
#include "core/tuf/signed_document.h"

namespace {

using namespace porthole::tuf;  // NOLINT: a fuzz harness

const SshPolicy& Policy() {
  static const SshPolicy* policy = [] {
    const char kSigned[] = R"({"signatures":[],"signed":{
      "_type":"Remote-Sessions","version":1,"expires":"2034-01-01T00:00:00Z",
      "remote_sessions":{"ssh":{
        "authorized_keys":{"0":{"pubkey":"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOfgyvDfxMI1lfrHBWZSEnIX8isPMdg8CZLNKB7W4rj/"}},
        "ra_server_hosts":["localhost","RAS.example.com","[::1]"],
        "ra_server_ssh_pubkeys":["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMSQy6JGnIxrVMsi4xi2Goq48Dy1ilQ8wvaurQU3TSQe"]}}}})";
    SignedDocument doc = ParseSignedDocument(kSigned, "rs").value();
    return new SshPolicy(
        ParseSshPolicy(ParseRemoteSessions(doc).value()).value());
  }();
  return *policy;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  ErrorOr<DeviceSession> session = ParseDeviceSession(input);
  if (session.ok()) {
    (void)CheckSession(Policy(), *session);
  }
  porthole::Result<RelayAddress> url = ParseRaServerUrl(input);
  if (url.ok() && url->host.empty()) std::abort();
  return 0;
}
