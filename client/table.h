// A plain-text table with aligned columns, for the CLI's listings.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace cwb {

class TextTable {
 public:
  explicit TextTable(std::vector<std::string> headers) : headers_(std::move(headers)) {}

  // Adds a row; missing cells print empty, extra cells are an error in the caller (ignored).
  void AddRow(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }

  // Columns separated by two spaces; trailing spaces trimmed.
  void Print(std::ostream& out) const;

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace cwb
