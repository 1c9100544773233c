// The one wrapper around nlohmann-json: strict parsing and dumping that never
// throw, plus small typed accessors that report schema errors as values.
//
// ParseJson() is stricter than nlohmann's default parser, because signed
// metadata must have exactly one meaning:
//   - a member name repeated in one object is an error (nlohmann would keep
//     the last one silently);
//   - nesting is capped at kMaxJsonDepth;
//   - strings must be valid UTF-8 (unpaired surrogate escapes are errors);
//   - nothing but whitespace may follow the value.
// Numbers are kept as parsed: integers as number_integer/number_unsigned,
// anything with a fraction or exponent (or beyond 64 bits) as number_float.
//
// Code outside json.cc must not call throwing nlohmann members (at(),
// get<T>() on the wrong type, dump() on bad UTF-8); the accessors below and
// is_*() checks cover what the schema parsers need.
#ifndef PORTHOLE_CORE_TUF_JSON_H_
#define PORTHOLE_CORE_TUF_JSON_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/tuf/error.h"

namespace porthole::tuf {

using Json = nlohmann::json;

inline constexpr int kMaxJsonDepth = 64;

// Parses `text` as one JSON value. Errors are kNotJson with nlohmann's
// position and reason ("syntax error at line 1, column 1 ...").
ErrorOr<Json> ParseJson(std::string_view text);

// Compact standard JSON (not canonical JSON: control characters escaped).
// Fails (kMalformed) only on strings that are not valid UTF-8.
ErrorOr<std::string> DumpJson(const Json& value);
// Indented with two spaces and a final newline, for files people read.
ErrorOr<std::string> DumpJsonPretty(const Json& value);

// The member `key` of `object`, or nullptr when absent (or `object` is not
// an object).
const Json* FindMember(const Json& object, const std::string& key);

// Typed accessors for schema parsing. `where` names the enclosing value in
// messages: "<where>: missing member 'version'", "<where>: member 'version'
// must be an integer >= 1". Errors are kMalformed.
ErrorOr<const Json*> RequireObject(const Json& object, const std::string& key,
                                   std::string_view where);
ErrorOr<const Json*> RequireArray(const Json& object, const std::string& key,
                                  std::string_view where);
ErrorOr<std::string> RequireString(const Json& object, const std::string& key,
                                   std::string_view where);
// A JSON integer >= `min` (a float such as 3.0 is refused).
ErrorOr<uint64_t> RequireUint(const Json& object, const std::string& key,
                              uint64_t min, std::string_view where);
ErrorOr<bool> RequireBool(const Json& object, const std::string& key,
                          std::string_view where);
// An array whose elements are all strings.
ErrorOr<std::vector<std::string>> RequireStringArray(const Json& object,
                                                     const std::string& key,
                                                     std::string_view where);

// The signed role's "_type" must be exactly `want`; kWrongType otherwise,
// e.g. "root.json: _type must be 'Root' ('Remote-Sessions')".
Error RequireType(const Json& object, std::string_view want,
                  std::string_view where);

// A short printable excerpt of `bytes` for error messages: the first line,
// at most 80 bytes, non-printable bytes as '?'.
std::string Excerpt(std::string_view bytes);

}  // namespace porthole::tuf

#endif  // PORTHOLE_CORE_TUF_JSON_H_
