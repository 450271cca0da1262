// A plain-text table with aligned columns, for the CLI's listings.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace cwb {

// Whether to colour output: stdout is a terminal, NO_COLOR is unset or empty
// (https://no-color.org), and TERM is not "dumb".
bool UseColour(bool terminal);

// `text` in the SGR colour of a state word (succeeded, failed, running, connected, ...); other
// words unchanged.
std::string ColourState(const std::string& text);

class TextTable {
 public:
  explicit TextTable(std::vector<std::string> headers) : headers_(std::move(headers)) {}

  // Adds a row; missing cells print empty, extra cells are an error in the caller (ignored).
  // Cells may hold what agents or builds say of themselves: control characters (terminal escapes
  // among them) are shown escaped, never sent to the terminal.
  void AddRow(std::vector<std::string> cells);

  // Colours the cells of `column` by the state word they hold (succeeded green, failed red, ...)
  // when `colour` is true; the caller decides (UseColour).
  void ColourStates(size_t column, bool colour) {
    state_column_ = column;
    colour_ = colour;
  }

  // Print keeps each line within `columns` visible characters: the `shrinkable` columns (by
  // index) give up width first, widest first, down to kMinShrunkWidth, their cells cut with "~";
  // what still does not fit is cut at the edge. Other columns (task ids, states) stay whole
  // while the shrinkable ones can give. 0 (the default) leaves lines as wide as they are.
  static constexpr size_t kMinShrunkWidth = 4;
  void FitWidth(size_t columns, std::vector<size_t> shrinkable) {
    max_columns_ = columns;
    shrinkable_ = std::move(shrinkable);
  }

  // Columns separated by two spaces; trailing spaces trimmed.
  void Print(std::ostream& out) const;

 private:
  std::vector<size_t> ColumnWidths() const;

  std::vector<std::string> headers_;
  size_t max_columns_ = 0;
  std::vector<size_t> shrinkable_;
  size_t state_column_ = 0;
  bool colour_ = false;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace cwb
