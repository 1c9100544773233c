// Internal to core/keys: the character classes and message helper the key
// and authorized_keys parsers share. Not part of the library's interface.

#ifndef PORTHOLE_CORE_KEYS_TEXT_H_
#define PORTHOLE_CORE_KEYS_TEXT_H_

#include <string>
#include <string_view>

#include "core/config/toml.h"

namespace porthole::keys::text {

// The field separators of OpenSSH key lines.
inline bool IsBlank(char c) { return c == ' ' || c == '\t'; }

// Untrusted bytes in a message: printable, at most 64 of them.
inline std::string Printable(std::string_view s) {
  return config::PrintableText(s, 64);
}

}  // namespace porthole::keys::text

#endif  // PORTHOLE_CORE_KEYS_TEXT_H_
