#include "client/terminal_text.h"

#include "absl/strings/str_format.h"

namespace cwb {

std::string EscapeControlCharacters(std::string_view text, bool keep_layout) {
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    const bool layout = keep_layout && (c == '\n' || c == '\t');
    if ((c < 0x20 && !layout) || c == 0x7f) {
      out += absl::StrFormat("\\x%02x", c);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

}  // namespace cwb
