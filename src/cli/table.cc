#include "cli/table.h"

#include <algorithm>

#include "core/tuf/rfc3339.h"

namespace porthole::cli {
namespace {

// The length of the UTF-8 sequence starting with `c`, 0 if `c` cannot
// start one.
size_t SequenceLength(unsigned char c) {
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf) return 2;
  if (c >= 0xe0 && c <= 0xef) return 3;
  if (c >= 0xf0 && c <= 0xf4) return 4;
  return 0;
}

// True if text[i..i+len) is a well-formed UTF-8 sequence (no overlongs, no
// surrogates, nothing above U+10FFFF).
bool WellFormed(std::string_view text, size_t i, size_t len) {
  if (i + len > text.size()) return false;
  auto b = [&](size_t k) { return static_cast<unsigned char>(text[i + k]); };
  for (size_t k = 1; k < len; ++k) {
    if ((b(k) & 0xc0) != 0x80) return false;
  }
  if (len == 3) {
    if (b(0) == 0xe0 && b(1) < 0xa0) return false;
    if (b(0) == 0xed && b(1) >= 0xa0) return false;
  }
  if (len == 4) {
    if (b(0) == 0xf0 && b(1) < 0x90) return false;
    if (b(0) == 0xf4 && b(1) >= 0x90) return false;
  }
  return true;
}

size_t Width(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) {
    if ((c & 0xc0) != 0x80) ++n;
  }
  return n;
}

}  // namespace

std::string Printable(std::string_view text, bool keep_newlines) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    size_t len = SequenceLength(c);
    if (len == 1) {
      bool control = c < 0x20 || c == 0x7f;
      if (c == '\n' && keep_newlines) control = false;
      if (c == '\t' && keep_newlines) control = false;
      out += control ? '?' : static_cast<char>(c);
      ++i;
      continue;
    }
    if (len == 0 || !WellFormed(text, i, len)) {
      out += '?';
      ++i;
      continue;
    }
    // C1 controls (U+0080..U+009F) are two-byte sequences C2 80..C2 9F.
    if (len == 2 && c == 0xc2 &&
        static_cast<unsigned char>(text[i + 1]) < 0xa0) {
      out += '?';
    } else {
      out.append(text.substr(i, len));
    }
    i += len;
  }
  return out;
}

Table::Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}

void Table::AddRow(std::vector<std::string> cells) {
  cells.resize(headers_.size());
  for (auto& c : cells) c = Printable(c);
  rows_.push_back(std::move(cells));
}

std::string Table::Render() const {
  std::vector<size_t> widths(headers_.size());
  for (size_t i = 0; i < headers_.size(); ++i) widths[i] = Width(headers_[i]);
  for (const auto& row : rows_) {
    for (size_t i = 0; i < row.size(); ++i) {
      widths[i] = std::max(widths[i], Width(row[i]));
    }
  }
  std::string out;
  auto line = [&](const std::vector<std::string>& cells) {
    std::string l;
    for (size_t i = 0; i < cells.size(); ++i) {
      l += cells[i];
      if (i + 1 < cells.size()) {
        l.append(widths[i] - Width(cells[i]) + 2, ' ');
      }
    }
    while (!l.empty() && l.back() == ' ') l.pop_back();
    out += l + "\n";
  };
  line(headers_);
  for (const auto& row : rows_) line(row);
  return out;
}

std::string RelativeTime(SystemTime t, SystemTime now) {
  using std::chrono::duration_cast;
  int64_t secs = duration_cast<std::chrono::seconds>(t - now).count();
  bool future = secs > 0;
  int64_t s = future ? secs : -secs;
  if (s < 1) return "now";
  std::string text;
  int parts = 0;
  for (auto [unit, size] :
       {std::pair{'d', int64_t{86400}}, std::pair{'h', int64_t{3600}},
        std::pair{'m', int64_t{60}}, std::pair{'s', int64_t{1}}}) {
    if (parts == 2) break;
    if (s >= size) {
      text += std::to_string(s / size) + unit;
      s %= size;
      ++parts;
    } else if (parts == 1) {
      break;  // "1d" rather than "1d0h"
    }
  }
  return future ? "in " + text : text + " ago";
}

std::string ShowTime(const std::optional<std::string>& rfc3339,
                     SystemTime now) {
  if (!rfc3339 || rfc3339->empty()) return "-";
  auto t = tuf::ParseRfc3339(*rfc3339);
  if (!t.ok()) return Printable(*rfc3339);
  return RelativeTime(*t, now);
}

std::string KeyValueLines(
    const std::vector<std::pair<std::string, std::string>>& rows) {
  size_t w = 0;
  for (const auto& [k, v] : rows) w = std::max(w, Width(k));
  std::string out;
  for (const auto& [k, v] : rows) {
    out += k + ":" + std::string(w - Width(k) + 1, ' ') + Printable(v) + "\n";
  }
  return out;
}

}  // namespace porthole::cli
