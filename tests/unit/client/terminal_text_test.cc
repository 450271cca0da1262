#include "client/terminal_text.h"

#include "gtest/gtest.h"

namespace cwb {
namespace {

TEST(TerminalTextTest, ControlSequencesAreShownNotObeyed) {
  EXPECT_EQ(EscapeControlCharacters("\x1b[31mred\x1b[0m\n"), "\\x1b[31mred\\x1b[0m\n");
  EXPECT_EQ(EscapeControlCharacters("bell\x07 del\x7f tab\tok"), "bell\\x07 del\\x7f tab\tok");
  EXPECT_EQ(EscapeControlCharacters("\x1b]0;pwned\x07"), "\\x1b]0;pwned\\x07");
  EXPECT_EQ(EscapeControlCharacters("utf-8 ✓ stays"), "utf-8 ✓ stays");
}

}  // namespace
}  // namespace cwb
