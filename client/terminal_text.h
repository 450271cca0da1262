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

}  // namespace cwb
