// Fuzzes ParseAuthorizedKey() with arbitrary bytes as one line. Whatever
// parses must survive FormatAuthorizedKey() -> ParseAuthorizedKey() with the
// same options (name and value), blob and comment, and the formatted text
// must be a fixed point; a difference aborts. The options field is also fed
// to ParseKeyOptions() on its own.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "core/keys/authorized_key.h"

namespace {

using porthole::Result;
using porthole::keys::AuthorizedKey;
using porthole::keys::KeyOption;

bool SameKey(const AuthorizedKey& a, const AuthorizedKey& b) {
  return a.options == b.options && a.key.blob == b.key.blob &&
         a.comment == b.comment;
}

void CheckRoundTrip(const AuthorizedKey& key) {
  std::string text = porthole::keys::FormatAuthorizedKey(key);
  Result<AuthorizedKey> back = porthole::keys::ParseAuthorizedKey(text);
  if (!back.ok() || !SameKey(key, *back)) std::abort();
  if (porthole::keys::FormatAuthorizedKey(*back) != text) std::abort();

  std::string options = porthole::keys::FormatKeyOptions(key.options);
  Result<std::vector<KeyOption>> opts =
      porthole::keys::ParseKeyOptions(options);
  if (!opts.ok() || *opts != key.options) std::abort();

  // Accessors must not crash on anything that parsed.
  (void)key.Expiry();
  (void)key.key.Fingerprint();
  (void)key.key.ShortTypeName();
  for (const KeyOption& o : key.options) {
    if (key.FindOption(o.name) == nullptr) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  Result<AuthorizedKey> key = porthole::keys::ParseAuthorizedKey(input);
  if (key.ok()) CheckRoundTrip(*key);

  Result<std::vector<KeyOption>> opts = porthole::keys::ParseKeyOptions(input);
  if (opts.ok()) {
    std::string text = porthole::keys::FormatKeyOptions(*opts);
    Result<std::vector<KeyOption>> back = porthole::keys::ParseKeyOptions(text);
    if (!back.ok() || *back != *opts) std::abort();
  }
  return 0;
}
