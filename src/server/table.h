// Plain-text tables for people (`device list`, `token list`): a header row
// and left-aligned columns two spaces apart, no trailing spaces. Cells are
// shown as given (callers pass printable text).
#ifndef PORTHOLE_SERVER_TABLE_H_
#define PORTHOLE_SERVER_TABLE_H_

#include <string>
#include <vector>

namespace porthole::server {

class Table {
 public:
  explicit Table(std::vector<std::string> headers)
      : rows_{std::move(headers)} {}
  void AddColumn(std::string header) { rows_[0].push_back(std::move(header)); }
  // Missing cells are empty; extra ones are dropped.
  void AddRow(std::vector<std::string> cells) {
    cells.resize(rows_[0].size());
    rows_.push_back(std::move(cells));
  }
  std::string ToString() const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace porthole::server

#endif  // PORTHOLE_SERVER_TABLE_H_
