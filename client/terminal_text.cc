#include "client/terminal_text.h"

#include <sys/ioctl.h>

#include <cstdlib>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"

namespace cwb {
namespace {

bool IsEscaped(unsigned char c, bool keep_layout) {
  const bool layout = keep_layout && (c == '\n' || c == '\t');
  return (c < 0x20 && !layout) || c == 0x7f;
}

// Length of the SGR/CSI sequence at `text[i]` ("\x1b[" ... final byte), or 0 if none starts there.
size_t EscapeSequenceLength(std::string_view text, size_t i) {
  if (text[i] != '\x1b' || i + 1 >= text.size() || text[i + 1] != '[') return 0;
  size_t j = i + 2;
  while (j < text.size() && !(text[j] >= 0x40 && text[j] <= 0x7e)) ++j;
  return j < text.size() ? j + 1 - i : text.size() - i;
}

bool IsContinuationByte(unsigned char c) { return (c & 0xc0) == 0x80; }


}  // namespace

bool HasControlCharacters(std::string_view text, bool keep_layout) {
  for (unsigned char c : text) {
    if (IsEscaped(c, keep_layout)) return true;
  }
  return false;
}

std::string EscapeControlCharacters(std::string_view text, bool keep_layout) {
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (IsEscaped(c, keep_layout)) {
      out += absl::StrFormat("\\x%02x", c);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

std::string CutToColumns(std::string_view line, size_t columns) {
  size_t used = 0;
  bool coloured = false;
  for (size_t i = 0; i < line.size();) {
    if (const size_t escape = EscapeSequenceLength(line, i); escape > 0) {
      coloured = line.substr(i, escape) != "\x1b[0m";
      i += escape;
      continue;
    }
    if (used == columns) {
      std::string cut(line.substr(0, i));
      if (coloured) cut += "\x1b[0m";
      return cut;
    }
    ++used;
    ++i;
    while (i < line.size() && IsContinuationByte(static_cast<unsigned char>(line[i]))) ++i;
  }
  return std::string(line);
}

size_t VisibleColumns(std::string_view line) {
  size_t used = 0;
  for (size_t i = 0; i < line.size();) {
    if (const size_t escape = EscapeSequenceLength(line, i); escape > 0) {
      i += escape;
      continue;
    }
    ++used;
    ++i;
    while (i < line.size() && IsContinuationByte(static_cast<unsigned char>(line[i]))) ++i;
  }
  return used;
}

TerminalSize QueryTerminalSize(int fd) {
  TerminalSize size;
  winsize window{};
  if (::ioctl(fd, TIOCGWINSZ, &window) == 0 && window.ws_col > 0 && window.ws_row > 0) {
    size.columns = window.ws_col;
    size.rows = window.ws_row;
    return size;
  }
  auto from_env = [](const char* name, int fallback) {
    const char* value = std::getenv(name);
    int parsed = 0;
    return value != nullptr && absl::SimpleAtoi(value, &parsed) && parsed > 0 ? parsed : fallback;
  };
  size.columns = from_env("COLUMNS", size.columns);
  size.rows = from_env("LINES", size.rows);
  return size;
}

}  // namespace cwb
