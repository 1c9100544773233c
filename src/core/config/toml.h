// Strict TOML reading on top of toml++ (the only place that includes it).
//
// A TomlTable hands out values by key and remembers which keys were read;
// CheckNoUnknownKeys() then turns any key nobody asked for into an error that
// names it, so a typo in a config file is never silently ignored. Errors read
// "FILE:LINE: key 'a.b': reason". Values are copied out; no toml++ type leaks.
#ifndef PORTHOLE_CORE_CONFIG_TOML_H_
#define PORTHOLE_CORE_CONFIG_TOML_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/status.h"

namespace porthole::config {

// The type of a value, for keys that accept more than one form.
enum class TomlType {
  kNone,  // the key is absent
  kString,
  kInteger,
  kFloat,
  kBool,
  kTable,  // a [table] or an inline { table }
  kArray,
  kDateTime,  // a date, a time or a date-time
};

class TomlTable {
 public:
  // Each getter: unset when the key is absent; an error (kInvalidArgument)
  // when present with the wrong type.
  Result<std::optional<std::string>> GetString(std::string_view key);
  Result<std::optional<bool>> GetBool(std::string_view key);
  Result<std::optional<int64_t>> GetInt(std::string_view key);
  Result<std::optional<TomlTable>> GetTable(std::string_view key);
  Result<std::optional<std::vector<std::string>>> GetStringArray(
      std::string_view key);
  // An array whose every element is an integer.
  Result<std::optional<std::vector<int64_t>>> GetIntArray(
      std::string_view key);

  // The type of `key`'s value without reading it (kNone when absent).
  TomlType Type(std::string_view key) const;

  // Every key of this table, in file order.
  std::vector<std::string> Keys() const;
  bool Has(std::string_view key) const;

  // Marks `key` as read without reading it (for keys handled elsewhere).
  void MarkRead(std::string_view key);

  // Error naming the first key of this table (and, recursively, of tables
  // obtained through GetTable) that was never read.
  Status CheckNoUnknownKeys() const;

  // "FILE:LINE: key 'path.key'" for messages about a value of this table.
  std::string Where(std::string_view key) const;
  // The dotted path of this table ("device.session"); empty for the root.
  const std::string& path() const;
  // The name of the text in messages (the file name).
  const std::string& source() const;
  // The line where `key`'s value starts; 0 when the key is absent.
  int Line(std::string_view key) const;
  // The line where this table starts (its [header], the line of an inline
  // table); 0 for the root table.
  int Line() const;

  struct State;  // opaque, shared with the owning document
 private:
  friend class TomlDocument;
  explicit TomlTable(std::shared_ptr<State> s) : s_(std::move(s)) {}
  std::shared_ptr<State> s_;
};

class TomlDocument {
 public:
  // A syntax error is kInvalidArgument "FILE:LINE:COL: reason"; a missing
  // file kNotFound naming it.
  static Result<TomlDocument> ParseFile(const std::string& path,
                                        size_t max_bytes = 1 << 20);
  // `source` names the text in messages (a file name or "<built-in>").
  static Result<TomlDocument> Parse(std::string_view text,
                                    std::string source);

  TomlTable Root() const { return root_; }

 private:
  explicit TomlDocument(TomlTable root) : root_(std::move(root)) {}
  TomlTable root_;
};

// Quotes `s` as a TOML basic string ("..." with escapes).
std::string TomlQuote(std::string_view s);

// Text from a user made safe for a one-line message or a comment: bytes
// outside printable ASCII become \xNN, and it is cut after `max_bytes`
// ("..." marks the cut).
std::string PrintableText(std::string_view s, size_t max_bytes = 200);

}  // namespace porthole::config

#endif  // PORTHOLE_CORE_CONFIG_TOML_H_
