// The agent's book of attempts: each runs on its own thread; finished ones wait to be reported;
// cancelled, abandoned and forgotten ones go; registration lists what is held.
#include "agent/attempt_book.h"

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/temp_dir.h"

namespace cwb {
namespace {

namespace fs = std::filesystem;
using ::testing::IsEmpty;

v1::Assignment Assignment(const std::string& attempt) {
  v1::Assignment assignment;
  assignment.set_build_id("b1");
  assignment.set_attempt_id(attempt);
  assignment.mutable_spec()->set_id("t-" + attempt);
  return assignment;
}

// Attempts that run until cancelled, then say why; those named "quick..." finish at once with a
// wheel file.
class AttemptBookTest : public ::testing::Test {
 protected:
  AttemptBookTest() {
    dir_ = testing::FreshTestDir("book");
  }

  AttemptBook::Execute Execute() {
    return [this](const v1::Assignment& assignment, Cancellation& cancel) {
      TaskResult result;
      if (assignment.attempt_id().starts_with("quick")) {
        result.outcome = TaskOutcome::kSucceeded;
        BuiltWheel wheel;
        wheel.path = dir_ / (assignment.attempt_id() + ".whl");
        std::ofstream(wheel.path) << "wheel";
        result.wheels.push_back(wheel);
        return result;
      }
      cancel.Wait();
      result.outcome = TaskOutcome::kCancelled;
      result.message = cancel.reason();
      std::lock_guard lock(mutex_);
      stopped_because_.push_back(result.message);
      return result;
    };
  }

  fs::path dir_;
  std::mutex mutex_;
  std::vector<std::string> stopped_because_;
  Cancellation never_;
};

TEST_F(AttemptBookTest, AFinishedAttemptWaitsUntilItIsForgottenAndThenItsWheelGoes) {
  AttemptBook book(Execute());
  book.Start(Assignment("quick1"));
  book.Start(Assignment("quick1"));  // a repeat of the assignment changes nothing
  std::optional<AttemptBook::Finished> done = book.NextFinished(never_);
  ASSERT_TRUE(done.has_value());
  EXPECT_EQ(done->assignment.attempt_id(), "quick1");
  EXPECT_EQ(done->result.outcome, TaskOutcome::kSucceeded);
  EXPECT_EQ(book.NextFinished(never_)->assignment.attempt_id(), "quick1");  // until forgotten
  EXPECT_TRUE(fs::exists(dir_ / "quick1.whl"));
  book.Forget("quick1");
  EXPECT_EQ(book.size(), 0u);
  EXPECT_FALSE(fs::exists(dir_ / "quick1.whl"));
}

TEST_F(AttemptBookTest, RegistrationListsRunningAndUnreportedAttempts) {
  AttemptBook book(Execute());
  book.Start(Assignment("slow1"));
  book.Start(Assignment("quick1"));
  v1::AgentCapabilities capabilities;
  capabilities.set_slots(4);
  v1::Register hello = book.RegisterMessage("agent-1", capabilities);
  EXPECT_EQ(hello.agent_id(), "agent-1");
  EXPECT_EQ(hello.capabilities().slots(), 4u);
  ASSERT_EQ(hello.running_size(), 2);
  EXPECT_EQ(hello.running(0).attempt_id(), "quick1");
  EXPECT_EQ(hello.running(0).task_id(), "t-quick1");
  EXPECT_EQ(hello.running(1).attempt_id(), "slow1");
}

TEST_F(AttemptBookTest, ACancelledAttemptFinishesWithTheReason) {
  AttemptBook book(Execute());
  book.Start(Assignment("slow1"));
  book.Cancel("unknown", "nothing happens");
  book.Cancel("slow1", "cancelled by a user");
  std::optional<AttemptBook::Finished> done = book.NextFinished(never_);
  ASSERT_TRUE(done.has_value());
  EXPECT_EQ(done->result.outcome, TaskOutcome::kCancelled);
  EXPECT_EQ(done->result.message, "cancelled by a user");
}

TEST_F(AttemptBookTest, AnAbandonedAttemptIsStoppedAndDroppedUnreported) {
  AttemptBook book(Execute());
  book.Start(Assignment("slow1"));
  book.Start(Assignment("slow2"));
  book.Abandon({"slow1", "unknown"});
  v1::Register hello = book.RegisterMessage("agent-1", {});
  ASSERT_EQ(hello.running_size(), 1);
  EXPECT_EQ(hello.running(0).attempt_id(), "slow2");
  book.Cancel("slow2", "done");
  std::optional<AttemptBook::Finished> done = book.NextFinished(never_);
  ASSERT_TRUE(done.has_value());
  EXPECT_EQ(done->assignment.attempt_id(), "slow2");  // slow1 never comes out
  book.Forget("slow2");
  EXPECT_EQ(book.size(), 0u);
}

TEST_F(AttemptBookTest, WaitingForAFinishedAttemptEndsWhenItsStopFires) {
  AttemptBook book(Execute());
  book.Start(Assignment("slow1"));
  Cancellation stop;
  stop.Cancel("the session ended");
  EXPECT_FALSE(book.NextFinished(stop).has_value());
  v1::Register hello = book.RegisterMessage("agent-1", {});
  EXPECT_EQ(hello.running_size(), 1);
}

TEST_F(AttemptBookTest, DestroyingTheBookStopsEveryAttempt) {
  auto book = std::make_unique<AttemptBook>(Execute());
  book->Start(Assignment("slow1"));
  book->Start(Assignment("slow2"));
  book.reset();  // returns only once both threads have ended
  std::lock_guard lock(mutex_);
  EXPECT_THAT(stopped_because_, ::testing::ElementsAre("the agent is stopping", "the agent is stopping"));
}

}  // namespace
}  // namespace cwb
