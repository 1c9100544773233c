// An authorized_keys file as a list of lines, edited without disturbing what
// it does not touch.
//
// Parse() keeps every line's exact bytes; Serialize() of an unedited file
// returns the input byte for byte (comments, blank lines, lines that do not
// parse, trailing whitespace, CRs, a missing final newline). Edits replace or
// drop whole lines; a line added to a file that lacked a final newline gets
// one in front of it.
#ifndef PORTHOLE_CORE_KEYS_AUTHORIZED_KEYS_FILE_H_
#define PORTHOLE_CORE_KEYS_AUTHORIZED_KEYS_FILE_H_

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/keys/authorized_key.h"

namespace porthole::keys {

struct AuthorizedKeysLine {
  enum class Kind { kBlank, kComment, kKey, kInvalid };
  Kind kind = Kind::kBlank;
  std::string text;                  // the line as written, without '\n'
  std::optional<AuthorizedKey> key;  // set for kKey
  std::string error;                 // why a kInvalid line did not parse
};

class AuthorizedKeysFile {
 public:
  static AuthorizedKeysFile Parse(std::string_view contents);
  std::string Serialize() const;

  const std::vector<AuthorizedKeysLine>& lines() const { return lines_; }

  // Puts `key` where the first line of the same key material stands (and
  // drops later lines of it), or appends it. True if a line was replaced.
  bool Upsert(const AuthorizedKey& key);
  // Appends `key` as a new line.
  void Append(const AuthorizedKey& key);
  // Drops every line of key material `k`; returns how many.
  size_t Remove(const PublicKey& k);
  // Drops every line for which `pred` is true; returns how many.
  size_t RemoveIf(const std::function<bool(const AuthorizedKeysLine&)>& pred);

  // Number of kKey lines.
  size_t KeyCount() const;

 private:
  static AuthorizedKeysLine MakeLine(std::string text);
  std::vector<AuthorizedKeysLine> lines_;
  bool final_newline_ = true;
};

}  // namespace porthole::keys

#endif  // PORTHOLE_CORE_KEYS_AUTHORIZED_KEYS_FILE_H_
