#include "client/terminal_text.h"

#include "absl/strings/str_format.h"

namespace cwb {
namespace {

bool IsEscaped(unsigned char c, bool keep_layout) {
  const bool layout = keep_layout && (c == '\n' || c == '\t');
  return (c < 0x20 && !layout) || c == 0x7f;
}

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

}  // namespace cwb
