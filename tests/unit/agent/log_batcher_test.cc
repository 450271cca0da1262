#include "agent/log_batcher.h"

#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/fake_clock.h"

namespace cwb {
namespace {

using testing::FakeClock;

class Sent {
 public:
  bool Record(const v1::AgentMessage& m) {
    std::lock_guard lock(mutex_);
    batches_.push_back(m.logs().lines_size());
    EXPECT_EQ(m.logs().attempt_id(), "a1");
    cv_.notify_all();
    return true;
  }
  std::vector<int> Batches() {
    std::lock_guard lock(mutex_);
    return batches_;
  }
  // False if fewer than `n` batches came within kRendezvousLimit.
  [[nodiscard]] bool WaitFor(size_t n) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, testing::kRendezvousLimit, [&] { return batches_.size() >= n; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<int> batches_;
};

LogLine Line(FakeClock& clock, std::string text) { return {clock.WallNow(), "build", std::move(text)}; }

TEST(LogBatcherTest, QuietLinesGoOutAfterTheDelayNotBefore) {
  FakeClock clock;
  Sent sent;
  LogBatcher batcher("b", "t", "a1", [&](const v1::AgentMessage& m) { return sent.Record(m); }, clock,
                     std::chrono::milliseconds(100));
  batcher.Add(Line(clock, "one"));
  batcher.Add(Line(clock, "two"));
  ASSERT_TRUE(clock.WaitForSleepers(1));
  EXPECT_TRUE(sent.Batches().empty());
  clock.Advance(std::chrono::milliseconds(99));
  EXPECT_TRUE(sent.Batches().empty());
  clock.Advance(std::chrono::milliseconds(1));
  ASSERT_TRUE(sent.WaitFor(1));
  EXPECT_THAT(sent.Batches(), ::testing::ElementsAre(2));
}

TEST(LogBatcherTest, FullBatchesGoOutAtOnceAndTheRestOnDestruction) {
  FakeClock clock;
  Sent sent;
  {
    LogBatcher batcher("b", "t", "a1", [&](const v1::AgentMessage& m) { return sent.Record(m); }, clock,
                       std::chrono::hours(1));
    for (int i = 0; i < LogBatcher::kMaxLines + 5; ++i) batcher.Add(Line(clock, "x"));
    EXPECT_THAT(sent.Batches(), ::testing::ElementsAre(LogBatcher::kMaxLines));
    batcher.Add(Line(clock, std::string(LogBatcher::kMaxBytes, 'y')));  // a batch by size
    EXPECT_THAT(sent.Batches(), ::testing::ElementsAre(LogBatcher::kMaxLines, 6));
    batcher.Add(Line(clock, "tail"));
  }
  EXPECT_THAT(sent.Batches(), ::testing::ElementsAre(LogBatcher::kMaxLines, 6, 1));
}

TEST(LogBatcherTest, EachBatchCarriesTheBuildsLastProgressLine) {
  FakeClock clock;
  std::vector<v1::LogBatch> batches;
  {
    LogBatcher batcher("b", "t", "a1", [&](const v1::AgentMessage& m) { batches.push_back(m.logs()); return true; },
                       clock, std::chrono::hours(1));
    batcher.Add(Line(clock, "[1/40] c++ -c a.cpp"));
    batcher.Add({clock.WallNow(), "build:err", "      [2/40] /usr/local/cuda/bin/nvcc -c k.cu"});  // pip indents it
    batcher.Add({clock.WallNow(), "cwb", "[3/40] said by cwb, not the build"});
    batcher.Add({clock.WallNow(), "image", "[ 50%] an image build's make"});
    for (int i = 4; i < LogBatcher::kMaxLines; ++i) batcher.Add(Line(clock, "compiling"));
    batcher.Add(Line(clock, "no progress in the next batch"));
  }
  ASSERT_EQ(batches.size(), 2u);
  ASSERT_TRUE(batches[0].has_progress());
  EXPECT_EQ(batches[0].progress().done(), 2u);
  EXPECT_EQ(batches[0].progress().total(), 40u);
  EXPECT_FALSE(batches[1].has_progress());
}

}  // namespace
}  // namespace cwb
