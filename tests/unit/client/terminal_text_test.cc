#include "client/terminal_text.h"

#include <stdlib.h>

#include <sstream>

#include "client/table.h"

#include "gtest/gtest.h"

namespace cwb {
namespace {

TEST(TerminalTextTest, ControlSequencesAreShownNotObeyed) {
  EXPECT_EQ(EscapeControlCharacters("\x1b[31mred\x1b[0m\n"), "\\x1b[31mred\\x1b[0m\n");
  EXPECT_EQ(EscapeControlCharacters("bell\x07 del\x7f tab\tok"), "bell\\x07 del\\x7f tab\tok");
  EXPECT_EQ(EscapeControlCharacters("\x1b]0;pwned\x07"), "\\x1b]0;pwned\\x07");
  EXPECT_EQ(EscapeControlCharacters("utf-8 ✓ stays"), "utf-8 ✓ stays");
}

TEST(TerminalTextTest, TableCellsKeepNeitherEscapesNorLineBreaks) {
  // What an agent says of itself (its id, hostname, labels) lands in `cwb agents`' cells.
  TextTable table({"AGENT", "HOST"});
  table.AddRow({"agent-1\x1b[2J", "host\nfake-row\tx\x1b]0;owned\x07"});
  std::ostringstream out;
  table.Print(out);
  EXPECT_EQ(out.str().find('\x1b'), std::string::npos);
  EXPECT_EQ(out.str(), "AGENT           HOST\n"
                       "agent-1\\x1b[2J  host\\x0afake-row\\x09x\\x1b]0;owned\\x07\n");
}

TEST(TerminalTextTest, CutToColumnsCountsCharactersNotBytesOrColours) {
  EXPECT_EQ(CutToColumns("abcdef", 4), "abcd");
  EXPECT_EQ(CutToColumns("abc", 4), "abc");
  EXPECT_EQ(CutToColumns("✓✓✓✓✓", 2), "✓✓");
  EXPECT_EQ(CutToColumns("\x1b[32mgreen\x1b[0m tail", 7), "\x1b[32mgreen\x1b[0m t");
  EXPECT_EQ(CutToColumns("\x1b[32mgreen\x1b[0m", 3), "\x1b[32mgre\x1b[0m");
  EXPECT_EQ(VisibleColumns("\x1b[32m✓ ok\x1b[0m"), 4u);
}

TEST(TerminalTextTest, TheSizeComesFromTheEnvironmentWhenTheFdIsNoTerminal) {
  ::setenv("COLUMNS", "132", 1);
  ::setenv("LINES", "not-a-number", 1);
  const TerminalSize size = QueryTerminalSize(-1);
  EXPECT_EQ(size.columns, 132);
  EXPECT_EQ(size.rows, 24);
  ::unsetenv("COLUMNS");
  ::unsetenv("LINES");
}

}  // namespace
}  // namespace cwb
