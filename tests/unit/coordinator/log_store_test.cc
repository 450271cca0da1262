#include "coordinator/log_store.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/temp_dir.h"

namespace cwb {
namespace {

using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::Not;

std::vector<v1::LogLine> Lines(int n, const std::string& text) {
  std::vector<v1::LogLine> lines(n);
  for (v1::LogLine& line : lines) {
    line.set_time_ms(1767322800000);
    line.set_source("build");
    line.set_text(text);
  }
  return lines;
}

TEST(LogStoreTest, AnAttemptPastItsLimitKeepsItsBeginningAndItsEnd) {
  const auto dir = testing::FreshTestDir("logstore");
  LogStore logs(dir, 1000);  // 500 bytes of head; two tail files of 250
  ASSERT_TRUE(logs.Append("b", "t", "a1", Lines(2, "hello")).ok());
  EXPECT_EQ(logs.Read("b", "t", 0, 1 << 20).value(),
            "2026-01-02T03:00:00.000Z [build] hello\n2026-01-02T03:00:00.000Z [build] hello\n");
  // 100 lines of 66 bytes in one batch: the batch that crosses the limit is not lost whole.
  std::vector<v1::LogLine> lines;
  for (int i = 0; i < 100; ++i) {
    lines.push_back(Lines(1, absl::StrCat("line ", 100 + i, " ", std::string(30, 'x')))[0]);
  }
  ASSERT_TRUE(logs.Append("b", "t", "a1", lines).ok());
  const std::string head = logs.Read("b", "t", 0, 1 << 20).value();
  EXPECT_LE(head.size(), 500u);
  EXPECT_THAT(head, HasSubstr("line 100 "));  // the part of the batch that fit
  EXPECT_THAT(head, Not(HasSubstr("line 199")));
  // The end comes in when the attempt ends: the cut said, then its last lines.
  logs.EndAttempt("b", "t", "a1");
  const std::string text = logs.Read("b", "t", 0, 1 << 20).value();
  EXPECT_LE(text.size(), 1000u + 200u);
  EXPECT_THAT(text, HasSubstr("[cwb] log cut here: the attempt wrote more than 500 bytes;"));
  EXPECT_THAT(text, EndsWith("line 199 xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n"));
  EXPECT_FALSE(std::filesystem::exists(dir / "b" / "t.log.tail0"));
  EXPECT_FALSE(std::filesystem::exists(dir / "b" / "t.log.tail1"));
}

TEST(LogStoreTest, TheTailStartsWhereItsLastLinesBeginReadFromTheEnd) {
  const auto dir = testing::FreshTestDir("logstore_tail");
  LogStore logs(dir, 64 << 20);
  EXPECT_EQ(logs.TailOffset("b", "t", 5).value(), 0u);  // no log yet
  std::vector<v1::LogLine> lines;
  for (int i = 0; i < 5000; ++i) {  // about 250 KiB: the tail spans blocks
    v1::LogLine line;
    line.set_time_ms(1767322800000);
    line.set_source("build");
    line.set_text(absl::StrCat("line ", i));
    lines.push_back(line);
  }
  ASSERT_TRUE(logs.Append("b", "t", "a1", lines).ok());
  auto tail = [&](uint64_t n) { return logs.Read("b", "t", logs.TailOffset("b", "t", n).value(), 1 << 20).value(); };
  EXPECT_EQ(tail(1), "2026-01-02T03:00:00.000Z [build] line 4999\n");
  EXPECT_EQ(tail(2), "2026-01-02T03:00:00.000Z [build] line 4998\n2026-01-02T03:00:00.000Z [build] line 4999\n");
  const std::string last3000 = tail(3000);
  EXPECT_EQ(std::count(last3000.begin(), last3000.end(), '\n'), 3000);
  EXPECT_THAT(last3000, ::testing::StartsWith("2026-01-02T03:00:00.000Z [build] line 2000\n"));
  EXPECT_EQ(logs.TailOffset("b", "t", 5000).value(), 0u);  // every line
  EXPECT_EQ(logs.TailOffset("b", "t", 100000).value(), 0u);
}

TEST(LogStoreTest, EachAttemptHasALimitOfItsOwn) {
  const auto dir = testing::FreshTestDir("logstore");
  LogStore logs(dir, 1000);
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(logs.Append("b", "t", "a1", Lines(1, std::string(40, 'x'))).ok());
  // A retry's lines are shown, not hidden behind the first attempt's limit; the first attempt's
  // tail goes in first.
  ASSERT_TRUE(logs.Append("b", "t", "a2", Lines(1, "the retry starts")).ok());
  const std::string text = logs.Read("b", "t", 0, 1 << 20).value();
  EXPECT_THAT(text, HasSubstr("log cut here"));
  EXPECT_THAT(text, EndsWith("[build] the retry starts\n"));
}

TEST(LogStoreTest, FollowersAreWokenByGrowthAndNotForNothing) {
  const auto dir = testing::FreshTestDir("logstore");
  LogStore logs(dir, 1000);
  ASSERT_TRUE(logs.Append("b", "t", "a1", Lines(1, "hello")).ok());
  const uint64_t size = logs.Read("b", "t", 0, 1 << 20)->size();
  logs.WaitForGrowth("b", "t", size, std::chrono::milliseconds(0));
  EXPECT_EQ(logs.Read("b", "t", size, 100).value(), "");
}

}  // namespace
}  // namespace cwb
