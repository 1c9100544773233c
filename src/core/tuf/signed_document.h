// The signed-metadata envelope (PROTOCOL.md 6.2):
//
//   {"signed": {...},
//    "signatures": [{"keyid": "<hex>", "method": "<ignored>",
//                    "sig": "<standard base64>"}, ...]}
//
// Parsing checks the envelope only; the role schemas are in root.h and
// remote_sessions.h. Other top-level members are ignored, as tough does.
#ifndef PORTHOLE_CORE_TUF_SIGNED_DOCUMENT_H_
#define PORTHOLE_CORE_TUF_SIGNED_DOCUMENT_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/tuf/error.h"
#include "core/tuf/json.h"

namespace porthole::tuf {

// The cap on every metadata document, fetched or stored (1 MiB, as tough).
inline constexpr size_t kMaxMetadataBytes = 1 << 20;
// More signature entries than this make the document malformed: each costs a
// verification, and real documents carry a handful.
inline constexpr size_t kMaxSignatures = 1024;

struct Signature {
  std::string keyid;  // lower-case hex
  std::string sig;    // raw signature bytes (decoded from base64)
};

struct SignedDocument {
  std::string name;       // for messages: "root.json", "4.root.json", ...
  Json signed_value;      // the `signed` object as parsed
  std::string canonical;  // CanonicalJson(signed_value): what sigs cover
  std::vector<Signature> signatures;
};

// Parses `bytes` fetched or stored as `name`. Errors, each message starting
// with "<name>: ":
//   kTooLarge      more than `max_bytes`
//   kNotJson       not JSON (the message quotes the start of the body)
//   kMalformed     not an object with an object `signed` and an array
//                  `signatures`
//   kBadSignature  a signatures entry without hex `keyid` or with `sig` not
//                  strict standard base64; more than kMaxSignatures entries
//   kNotCanonical  `signed` has no canonical form (e.g. a float)
ErrorOr<SignedDocument> ParseSignedDocument(
    std::string_view bytes, std::string_view name,
    size_t max_bytes = kMaxMetadataBytes);

}  // namespace porthole::tuf

#endif  // PORTHOLE_CORE_TUF_SIGNED_DOCUMENT_H_
