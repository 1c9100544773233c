// Output for people: aligned text tables and safe rendering of what the
// server sent.
//
// Everything shown comes from the network, so every cell goes through
// Printable(): a hostile server cannot move the cursor, clear the screen or
// forge lines with terminal escape sequences. Plain data, thread-compatible.
#ifndef PORTHOLE_CLI_TABLE_H_
#define PORTHOLE_CLI_TABLE_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/clock.h"

namespace porthole::cli {

// `text` with every C0/C1 control character, DEL and byte that is not part
// of valid UTF-8 replaced by '?'; a line break too unless `keep_newlines`.
std::string Printable(std::string_view text, bool keep_newlines = false);

// Columns separated by two spaces, padded to the widest cell (counted in
// code points), no trailing spaces, a header line in capitals as given.
class Table {
 public:
  explicit Table(std::vector<std::string> headers);
  // Cells beyond the header count are dropped, missing ones are empty.
  // Cells are made Printable().
  void AddRow(std::vector<std::string> cells);
  size_t rows() const { return rows_.size(); }
  std::string Render() const;

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

// "in 59m", "3m ago", "now" (within a second), relative to `now`, with the
// two largest units ("in 1d2h", "2h5m ago").
std::string RelativeTime(SystemTime t, SystemTime now);

// An RFC 3339 time from the server shown relative to `now`; "-" for an
// absent one; the text itself (Printable) when it does not parse.
std::string ShowTime(const std::optional<std::string>& rfc3339, SystemTime now);

// "key: value" lines with the keys padded to the longest, for `show`.
std::string KeyValueLines(
    const std::vector<std::pair<std::string, std::string>>& rows);

}  // namespace porthole::cli

#endif  // PORTHOLE_CLI_TABLE_H_
