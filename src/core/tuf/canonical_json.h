// Canonical JSON as Toradex's tough fork computes it: the exact bytes that
// metadata signatures cover (PROTOCOL.md 6.8, a variant of OLPC cjson).
//
//   - no whitespace; null, true, false literally; integers in plain decimal;
//   - any non-integer number (fraction, exponent, beyond 64 bits) is an
//     error, and so is a string that is not valid UTF-8;
//   - strings are normalised to Unicode NFC, then only three characters
//     are escaped: quote as \", backslash as \\ and LF as \n (two
//     characters each); every other character (other C0 controls,
//     TAB, CR, DEL, '/') is written as its raw UTF-8 bytes;
//   - arrays keep their order;
//   - object members are sorted by the bytes of the *encoded* key including
//     its quotes, so "a b" sorts before "a" (' ' < '"'). Two names that
//     encode alike after NFC (e.g. "\u00e9" and "e\u0301") are an error:
//     the signed bytes would be ambiguous.
//
// Note that the output is not always valid JSON (raw control characters):
// it is only ever hashed or signed, never sent.
#ifndef PORTHOLE_CORE_TUF_CANONICAL_JSON_H_
#define PORTHOLE_CORE_TUF_CANONICAL_JSON_H_

#include <string>
#include <string_view>

#include "core/base/utf8.h"
#include "core/tuf/error.h"
#include "core/tuf/json.h"

namespace porthole::tuf {

// The canonical bytes of `value`. Errors are kNotCanonical with the reason
// and the JSON pointer of the offending value ("/signed/version: ...").
ErrorOr<std::string> CanonicalJson(const Json& value);

// IsValidUtf8 (core/base/utf8.h) tells whether NormalizeNfc accepts a text.
using ::porthole::IsValidUtf8;

// `utf8` in Unicode Normalization Form C. The input must be valid UTF-8
// (kNotCanonical otherwise).
ErrorOr<std::string> NormalizeNfc(std::string_view utf8);

}  // namespace porthole::tuf

#endif  // PORTHOLE_CORE_TUF_CANONICAL_JSON_H_
