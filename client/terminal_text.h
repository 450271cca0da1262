// Showing untrusted text (build logs) on a terminal: control characters, ANSI escape sequences
// included, are shown as visible escapes so a log cannot move the cursor, retitle the window or
// hide lines. Newlines and tabs pass.
#pragma once

#include <string>
#include <string_view>

namespace cwb {

// "\x1b[31m" -> "\\x1b[31m"; bytes 0x00-0x1f and 0x7f become "\\xHH", but for \n and \t where
// `keep_layout` (a log's lines and tabs; a table cell keeps neither).
std::string EscapeControlCharacters(std::string_view text, bool keep_layout = true);
// Whether EscapeControlCharacters would change `text` (a cheap test before a copy).
bool HasControlCharacters(std::string_view text, bool keep_layout = true);

// The first `columns` visible characters of a line that may hold SGR colour sequences
// ("\x1b[...m", which take no column) and UTF-8 (one column per character); a cut inside a
// colour ends with a reset so the colour does not run on.
std::string CutToColumns(std::string_view line, size_t columns);
// Visible characters of such a line.
size_t VisibleColumns(std::string_view line);

// A terminal's size in character cells.
struct TerminalSize {
  int columns = 80;
  int rows = 24;
};
// The size of the terminal on `fd` (TIOCGWINSZ); where that fails, COLUMNS and LINES from the
// environment, then 80x24.
TerminalSize QueryTerminalSize(int fd);

}  // namespace cwb
