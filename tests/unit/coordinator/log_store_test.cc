#include "coordinator/log_store.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cwb {
namespace {

std::vector<v1::LogLine> Lines(int n, const std::string& text) {
  std::vector<v1::LogLine> lines(n);
  for (v1::LogLine& line : lines) {
    line.set_time_ms(1767322800000);
    line.set_source("build");
    line.set_text(text);
  }
  return lines;
}

TEST(LogStoreTest, AppendsReadsAndCutsAtTheLimit) {
  const auto dir = std::filesystem::path(::testing::TempDir()) / absl::StrCat("logstore_", ::getpid());
  std::filesystem::remove_all(dir);
  LogStore logs(dir, 1000);
  ASSERT_TRUE(logs.Append("b", "t", Lines(2, "hello")).ok());
  EXPECT_EQ(logs.Read("b", "t", 0, 1 << 20).value(),
            "2026-01-02T03:00:00.000Z [build] hello\n2026-01-02T03:00:00.000Z [build] hello\n");
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(logs.Append("b", "t", Lines(1, std::string(40, 'x'))).ok());
  const std::string text = logs.Read("b", "t", 0, 1 << 20).value();
  EXPECT_LE(text.size(), 1000u + 100u);  // the limit, plus the one line saying where it was cut
  EXPECT_THAT(text, ::testing::EndsWith("[cwb] log cut here: it reached the limit of 1000 bytes\n"));
  // Nothing more is appended once cut, and followers are not woken for nothing.
  ASSERT_TRUE(logs.Append("b", "t", Lines(1, "late")).ok());
  EXPECT_EQ(logs.Read("b", "t", 0, 1 << 20).value(), text);
  logs.WaitForGrowth("b", "t", text.size(), std::chrono::milliseconds(0));
  EXPECT_EQ(logs.Read("b", "t", text.size(), 100).value(), "");
}

}  // namespace
}  // namespace cwb
