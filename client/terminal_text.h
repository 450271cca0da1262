// Showing untrusted text (build logs) on a terminal: control characters, ANSI escape sequences
// included, are shown as visible escapes so a log cannot move the cursor, retitle the window or
// hide lines. Newlines and tabs pass.
#pragma once

#include <string>
#include <string_view>

namespace cwb {

// "\x1b[31m" -> "\\x1b[31m"; bytes 0x00-0x1f (but \n, \t) and 0x7f become "\\xHH".
std::string EscapeControlCharacters(std::string_view text);

}  // namespace cwb
