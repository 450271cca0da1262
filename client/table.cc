#include "client/table.h"

#include <algorithm>
#include <cstdlib>
#include <map>

#include "client/terminal_text.h"

namespace cwb {

bool UseColour(bool terminal) {
  const char* no_colour = std::getenv("NO_COLOR");
  const char* term = std::getenv("TERM");
  return terminal && (no_colour == nullptr || *no_colour == '\0') && !(term != nullptr && std::string(term) == "dumb");
}

std::string ColourState(const std::string& text) {
  static const std::map<std::string, std::string> kCodes = {
      {"succeeded", "32"}, {"failed", "31"},   {"cancelled", "33"},   {"running", "36"},
      {"assigned", "36"},  {"queued", "2"},    {"connected", "32"},   {"disconnected", "31"},
      {"finished", "32"},  {"built", "32"},     {"missing", "33"},     {"unsupported", "2"},
      {"built, waiting for a GPU to test", "35"}, {"succeeded (untested)", "33"}, {"built (untested)", "33"},
  };
  auto it = kCodes.find(text);
  if (it == kCodes.end()) return text;
  return "\x1b[" + it->second + "m" + text + "\x1b[0m";
}

void TextTable::AddRow(std::vector<std::string> cells) {
  for (std::string& cell : cells) {
    // Most cells hold no control character and are kept as they are (no copy).
    if (HasControlCharacters(cell, /*keep_layout=*/false)) cell = EscapeControlCharacters(cell, /*keep_layout=*/false);
  }
  rows_.push_back(std::move(cells));
}

std::vector<size_t> TextTable::ColumnWidths() const {
  std::vector<size_t> widths(headers_.size());
  for (size_t i = 0; i < headers_.size(); ++i) widths[i] = VisibleColumns(headers_[i]);
  for (const auto& row : rows_) {
    for (size_t i = 0; i < std::min(row.size(), widths.size()); ++i) {
      widths[i] = std::max(widths[i], VisibleColumns(row[i]));
    }
  }
  if (max_columns_ == 0) return widths;
  // The widest shrinkable column gives up one column at a time until the line fits.
  size_t total = 2 * (widths.size() - 1);
  for (size_t width : widths) total += width;
  while (total > max_columns_) {
    size_t* widest = nullptr;
    for (size_t column : shrinkable_) {
      if (column < widths.size() && widths[column] > kMinShrunkWidth &&
          (widest == nullptr || widths[column] > *widest)) {
        widest = &widths[column];
      }
    }
    if (widest == nullptr) break;
    --*widest;
    --total;
  }
  return widths;
}

void TextTable::Print(std::ostream& out) const {
  const std::vector<size_t> widths = ColumnWidths();
  auto print_row = [&](const std::vector<std::string>& cells) {
    std::string line;
    for (size_t i = 0; i < widths.size(); ++i) {
      std::string cell = i < cells.size() ? cells[i] : "";
      size_t shown = VisibleColumns(cell);
      if (shown > widths[i]) {
        cell = CutToColumns(cell, widths[i] - 1) + "~";
        shown = widths[i];
      }
      line += colour_ && i == state_column_ && &cells != &headers_ ? ColourState(cell) : cell;
      if (i + 1 < widths.size()) line += std::string(widths[i] - shown + 2, ' ');
    }
    line.erase(line.find_last_not_of(' ') + 1);
    out << (max_columns_ > 0 ? CutToColumns(line, max_columns_) : line) << '\n';
  };
  print_row(headers_);
  for (const auto& row : rows_) print_row(row);
}

}  // namespace cwb
