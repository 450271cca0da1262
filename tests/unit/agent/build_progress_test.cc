#include "agent/build_progress.h"

#include "gtest/gtest.h"

namespace cwb {
namespace {

std::string Parsed(std::string_view line) {
  std::optional<v1::BuildProgress> progress = ParseProgressLine(line);
  return progress ? std::to_string(progress->done()) + "/" + std::to_string(progress->total()) : "none";
}

TEST(BuildProgressTest, NinjaAndMakeLinesGiveDoneAndTotal) {
  EXPECT_EQ(Parsed("[12/345] Building CUDA object csrc/flash_fwd_hdim128.cu.o"), "12/345");
  EXPECT_EQ(Parsed("      [1/3] c++ -MMD -MF ext.o.d -c ext.cpp"), "1/3");  // as pip indents it
  EXPECT_EQ(Parsed("[345/345] Linking CXX shared module ext.so"), "345/345");
  EXPECT_EQ(Parsed("[ 42%] Building CXX object CMakeFiles/ext.dir/ext.cpp.o"), "42/100");
  EXPECT_EQ(Parsed("[  5%] Built target x"), "5/100");
  EXPECT_EQ(Parsed("[100%] Linking CXX shared library libx.so"), "100/100");
}

TEST(BuildProgressTest, OtherLinesAndNonsenseFiguresAreNotProgress) {
  for (const char* line : {"", "building 'ext' extension", "[build] x", "[12/0] zero total", "[5/3] past the total",
                           "[12/345 no bracket", "[ 42% ] spaced", "[-1/3] negative", "[101%] past a hundred",
                           "[99999999999/99999999999] too many", "x [1/2] not at the start", "[1/20000000] too many"}) {
    EXPECT_EQ(Parsed(line), "none") << line;
  }
}

}  // namespace
}  // namespace cwb
