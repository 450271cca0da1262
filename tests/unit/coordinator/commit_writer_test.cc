// The commit writer over a sink that fails on demand, on a fake clock: nothing is delivered before
// it is written, a failed write is tried again (every retry interval, with what queued since) until
// it goes through, and health() says why meanwhile.
#include "coordinator/commit_writer.h"

#include <condition_variable>
#include <mutex>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/rendezvous.h"

namespace cwb {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// Records each batch applied (by its agents' ids) and fails while told to.
class FlakySink final : public BatchSink {
 public:
  absl::Status Apply(const StoreBatch& batch) override {
    std::lock_guard lock(mutex_);
    ++tries_;
    cv_.notify_all();
    if (full_) return absl::ResourceExhaustedError("sqlite: database or disk is full");
    std::vector<std::string> ids;
    for (const v1::AgentInfo& agent : batch.agents) ids.push_back(agent.agent_id());
    written_.push_back(ids);
    return absl::OkStatus();
  }
  void SetFull(bool full) {
    std::lock_guard lock(mutex_);
    full_ = full;
  }
  [[nodiscard]] bool WaitForTries(int count) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, testing::kRendezvousLimit, [&] { return tries_ >= count; });
  }
  std::vector<std::vector<std::string>> written() const {
    std::lock_guard lock(mutex_);
    return written_;
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  bool full_ = false;
  int tries_ = 0;
  std::vector<std::vector<std::string>> written_;
};

// A commit writing agent `id` and, once written, noting `id` in `delivered`.
CommitWriter::Commit Commit(const std::string& id, std::vector<std::string>& delivered, std::mutex& mutex) {
  CommitWriter::Commit commit;
  commit.batch.agents.emplace_back().set_agent_id(id);
  commit.deliveries.push_back([id, &delivered, &mutex] {
    std::lock_guard lock(mutex);
    delivered.push_back(id);
  });
  return commit;
}

TEST(CommitWriterTest, AFailedWriteDeliversNothingAndGoesWithTheNextOne) {
  testing::FakeClock clock;
  FlakySink sink;
  CommitWriter writer(sink, clock);
  std::mutex mutex;
  std::vector<std::string> delivered;
  sink.SetFull(true);
  writer.Submit(Commit("a", delivered, mutex));
  EXPECT_THAT(delivered, IsEmpty());
  EXPECT_TRUE(absl::IsResourceExhausted(writer.health()));
  EXPECT_EQ(writer.health().message(), "sqlite: database or disk is full");
  writer.Submit(Commit("b", delivered, mutex));
  EXPECT_THAT(delivered, IsEmpty());
  sink.SetFull(false);
  writer.Submit(Commit("c", delivered, mutex));
  EXPECT_THAT(delivered, ElementsAre("a", "b", "c"));
  EXPECT_THAT(sink.written(), ElementsAre(ElementsAre("a", "b", "c")));  // one transaction, in order
  EXPECT_TRUE(writer.health().ok());
}

TEST(CommitWriterTest, TheThreadTriesAgainEveryIntervalUntilAWriteGoesThrough) {
  testing::FakeClock clock;
  FlakySink sink;
  CommitWriter writer(sink, clock, std::chrono::seconds(1));
  writer.Start();
  std::mutex mutex;
  std::vector<std::string> delivered;
  sink.SetFull(true);
  writer.Submit(Commit("a", delivered, mutex));
  ASSERT_TRUE(sink.WaitForTries(1));
  ASSERT_TRUE(clock.WaitForSleeperUntil(clock.SteadyNow() + std::chrono::seconds(1)));
  EXPECT_FALSE(writer.health().ok());
  EXPECT_FALSE(writer.Sync().ok());  // a reader needing every write back gets the reason at once
  writer.Submit(Commit("b", delivered, mutex));  // queues behind the retry
  clock.Advance(std::chrono::seconds(1));
  ASSERT_TRUE(sink.WaitForTries(2));  // still full: tried again, a second later
  ASSERT_TRUE(clock.WaitForSleeperUntil(clock.SteadyNow() + std::chrono::seconds(1)));
  {
    std::lock_guard lock(mutex);
    EXPECT_THAT(delivered, IsEmpty());
  }
  sink.SetFull(false);
  clock.Advance(std::chrono::seconds(1));
  writer.Stop();  // returns once the retry (or, if the thread had not woken yet, its last try) wrote
  EXPECT_THAT(delivered, ElementsAre("a", "b"));
  EXPECT_THAT(sink.written(), ElementsAre(ElementsAre("a", "b")));
  EXPECT_TRUE(writer.health().ok());
}

TEST(CommitWriterTest, StoppingWithUnwrittenCommitsNeverDeliversThem) {
  testing::FakeClock clock;
  FlakySink sink;
  CommitWriter writer(sink, clock);
  writer.Start();
  std::mutex mutex;
  std::vector<std::string> delivered;
  sink.SetFull(true);
  writer.Submit(Commit("a", delivered, mutex));
  ASSERT_TRUE(sink.WaitForTries(1));
  writer.Stop();  // one more try, which fails too
  EXPECT_THAT(delivered, IsEmpty());
  EXPECT_THAT(sink.written(), IsEmpty());
}

}  // namespace
}  // namespace cwb
