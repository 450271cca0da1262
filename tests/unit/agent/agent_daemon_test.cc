// The agent's protocol loop over a scripted link on a fake clock: reconnecting with a doubling,
// capped backoff that starts over after an ack; heartbeats; finished attempts uploaded then
// reported; stale, refused and interrupted uploads; attempts cancelled and abandoned.
#include "agent/agent_daemon.h"

#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/temp_dir.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/fake_coordinator_link.h"

namespace cwb {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using std::chrono::milliseconds;
using testing::FakeClock;
using testing::FakeCoordinatorLink;
using testing::FakeSession;

v1::CoordinatorMessage Assign(const std::string& attempt) {
  v1::CoordinatorMessage message;
  v1::Assignment* assignment = message.mutable_assignment();
  assignment->set_build_id("b1");
  assignment->set_attempt_id(attempt);
  assignment->mutable_spec()->set_id("t-" + attempt);
  return message;
}

v1::RegisterAck Ack(std::vector<std::string> abandon = {}) {
  v1::RegisterAck ack;
  ack.set_heartbeat_interval_ms(2000);
  ack.set_lease_ms(10000);
  for (const std::string& attempt : abandon) ack.add_abandon_attempts(attempt);
  return ack;
}

// The status the agent sent for `attempt` in `state`, if it did.
std::optional<v1::TaskStatusUpdate> StatusSent(const FakeSession& session, const std::string& attempt,
                                               v1::TaskState state) {
  for (const v1::AgentMessage& m : session.Sent()) {
    if (m.has_status() && m.status().attempt_id() == attempt && m.status().state() == state) return m.status();
  }
  return std::nullopt;
}

auto IsStatus(const std::string& attempt, v1::TaskState state) {
  return [attempt, state](const v1::AgentMessage& m) {
    return m.has_status() && m.status().attempt_id() == attempt && m.status().state() == state;
  };
}

// Waits for `signal` to fire; false after kRendezvousLimit.
bool WaitFor(Cancellation& signal) {
  std::mutex mutex;
  std::condition_variable cv;
  auto subscription = signal.Subscribe([&] {
    std::lock_guard lock(mutex);
    cv.notify_all();
  });
  std::unique_lock lock(mutex);
  return cv.wait_for(lock, testing::kRendezvousLimit, [&] { return signal.cancelled(); });
}

class AgentDaemonTest : public ::testing::Test {
 protected:
  AgentDaemonTest() {
    dir_ = testing::FreshTestDir("daemon");
    options_.agent_id = "a1";
    options_.capabilities.set_slots(2);
    options_.random = [] { return uint64_t{0}; };  // each wait exactly half the backoff
    // By default an attempt builds one wheel at once.
    run_ = [this](const v1::Assignment& assignment, Cancellation&, const AgentDaemon::Send&, const AgentDaemon::Calls&) {
      TaskResult result;
      result.outcome = TaskOutcome::kSucceeded;
      result.wheels.push_back(Wheel(assignment.attempt_id()));
      return result;
    };
  }
  void TearDown() override {
    stop_.Cancel("the test is over");
    if (thread_.joinable()) thread_.join();
  }
  void Start() {
    daemon_ = std::make_unique<AgentDaemon>(
        options_, link_,
        [this](const v1::Assignment& a, Cancellation& cancel, const AgentDaemon::Send& send,
               const AgentDaemon::Calls& calls) { return run_(a, cancel, send, calls); },
        clock_);
    thread_ = std::thread([this] { result_ = daemon_->Run(stop_); });
  }
  BuiltWheel Wheel(const std::string& attempt) {
    BuiltWheel wheel;
    wheel.filename = absl::StrCat("demo-1.0+", attempt, "-py3-none-any.whl");
    wheel.path = dir_ / wheel.filename;
    std::ofstream(wheel.path) << "wheel";
    wheel.size = 5;
    return wheel;
  }

  fs::path dir_;
  FakeClock clock_;
  FakeCoordinatorLink link_{clock_};
  AgentDaemonOptions options_;
  AgentDaemon::Runner run_;
  std::unique_ptr<AgentDaemon> daemon_;
  Cancellation stop_;
  std::thread thread_;
  absl::Status result_;  // what Run returned, once thread_ is joined
};

TEST_F(AgentDaemonTest, AnUnreachableCoordinatorIsTriedAgainWithADoublingCappedBackoffThatAnAckResets) {
  Start();
  // min 200 ms, max 5 s: after each failure the backoff doubles, and the agent waits half of it.
  const std::vector<milliseconds> waits = {milliseconds(200), milliseconds(400), milliseconds(800),
                                           milliseconds(1600), milliseconds(2500), milliseconds(2500)};
  std::shared_ptr<FakeSession> session;
  for (size_t i = 0; i < waits.size(); ++i) {
    ASSERT_TRUE(link_.WaitForOpens(i + 1));
    if (i + 1 == waits.size()) session = link_.Accept(Ack());  // the next try succeeds
    ASSERT_TRUE(clock_.WaitForSleeperUntil(link_.OpenTimes()[i] + waits[i])) << "wait " << i;
    clock_.Advance(waits[i]);
  }
  ASSERT_TRUE(link_.WaitForOpens(waits.size() + 1));
  session->End();  // the coordinator goes away after acknowledging: the backoff starts over
  ASSERT_TRUE(clock_.WaitForSleeperUntil(link_.OpenTimes().back() + milliseconds(100)));
  clock_.Advance(milliseconds(100));
  ASSERT_TRUE(link_.WaitForOpens(waits.size() + 2));
  std::vector<Clock::SteadyTime> times = link_.OpenTimes();
  for (size_t i = 0; i < waits.size(); ++i) EXPECT_EQ(times[i + 1] - times[i], waits[i]) << i;
  EXPECT_EQ(times.back() - times[times.size() - 2], milliseconds(100));
}

TEST_F(AgentDaemonTest, ARefusedAgentStopsWithTheCoordinatorsReason) {
  link_.Fail(absl::UnauthenticatedError("authorization: a valid bearer token is required"));
  std::shared_ptr<FakeSession> session = link_.Accept(Ack());  // never reached: no retry fixes a token
  Start();
  thread_.join();  // Run returns by itself
  EXPECT_TRUE(absl::IsUnauthenticated(result_)) << result_;
  EXPECT_THAT(std::string(result_.message()), ::testing::HasSubstr("a valid bearer token is required"));
  EXPECT_EQ(link_.OpenTimes().size(), 1u);
}

TEST_F(AgentDaemonTest, AnAgentTheCoordinatorCouldNotTakeTriesAgainAndRegistersWithWhatItHolds) {
  link_.Fail(absl::UnavailableError("connection refused"));
  std::shared_ptr<FakeSession> session = link_.Accept(Ack());
  Start();
  ASSERT_TRUE(link_.WaitForOpens(1));
  ASSERT_TRUE(clock_.WaitForSleeperUntil(link_.OpenTimes()[0] + milliseconds(200)));
  clock_.Advance(milliseconds(200));
  ASSERT_TRUE(link_.WaitForOpens(2));
  const v1::Register hello = link_.Hellos()[1];
  EXPECT_EQ(hello.agent_id(), "a1");
  EXPECT_EQ(hello.capabilities().slots(), 2u);
  EXPECT_THAT(hello.running(), IsEmpty());
}

TEST_F(AgentDaemonTest, HeartbeatsGoOutAtTheIntervalTheAckGives) {
  std::shared_ptr<FakeSession> session = link_.Accept(Ack());
  Start();
  ASSERT_TRUE(link_.WaitForOpens(1));
  ASSERT_TRUE(clock_.WaitForSleeperUntil(link_.OpenTimes()[0] + milliseconds(2000)));
  EXPECT_THAT(session->Sent(), IsEmpty());
  clock_.Advance(milliseconds(2000));
  ASSERT_TRUE(session->WaitForSent([](const v1::AgentMessage& m) { return m.has_heartbeat(); }));
}

TEST_F(AgentDaemonTest, AFinishedAttemptIsReportedRunningThenUploadedThenSucceeded) {
  std::shared_ptr<FakeSession> session = link_.Accept(Ack());
  Start();
  session->Deliver(Assign("x1"));
  ASSERT_TRUE(session->WaitForSent(IsStatus("x1", v1::TASK_STATE_SUCCEEDED)));
  EXPECT_TRUE(StatusSent(*session, "x1", v1::TASK_STATE_RUNNING).has_value());
  EXPECT_THAT(session->Uploaded(), ElementsAre("demo-1.0+x1-py3-none-any.whl"));
  EXPECT_THAT(StatusSent(*session, "x1", v1::TASK_STATE_SUCCEEDED)->artifact_filenames(),
              ElementsAre("demo-1.0+x1-py3-none-any.whl"));
  // The wheel lives on the coordinator now. (The daemon waits out its backoff only once its
  // reporter is done.)
  session->End();
  ASSERT_TRUE(clock_.WaitForSleeperUntil(link_.OpenTimes()[0] + milliseconds(100)));
  EXPECT_FALSE(fs::exists(dir_ / "demo-1.0+x1-py3-none-any.whl"));
}

TEST_F(AgentDaemonTest, AStaleUploadIsNeitherReportedNorKept) {
  std::shared_ptr<FakeSession> session = link_.Accept(Ack());
  Cancellation tried;
  session->on_upload = [&](const v1::Assignment&, const BuiltWheel&) {
    tried.Cancel("tried");
    return absl::FailedPreconditionError("attempt_id: x1 is not the current attempt of task t-x1");
  };
  Start();
  session->Deliver(Assign("x1"));
  ASSERT_TRUE(WaitFor(tried));
  session->End();
  // The daemon waits out its backoff only once its reporter is done with x1.
  ASSERT_TRUE(clock_.WaitForSleeperUntil(link_.OpenTimes()[0] + milliseconds(100)));
  EXPECT_FALSE(StatusSent(*session, "x1", v1::TASK_STATE_SUCCEEDED).has_value());
  EXPECT_FALSE(StatusSent(*session, "x1", v1::TASK_STATE_FAILED).has_value());
  EXPECT_FALSE(fs::exists(dir_ / "demo-1.0+x1-py3-none-any.whl"));
  clock_.Advance(milliseconds(100));
  ASSERT_TRUE(link_.WaitForOpens(2));
  EXPECT_THAT(link_.Hellos()[1].running(), IsEmpty());
}

TEST_F(AgentDaemonTest, ARefusedUploadFailsTheTaskWithTheCoordinatorsReason) {
  std::shared_ptr<FakeSession> session = link_.Accept(Ack());
  session->on_upload = [](const v1::Assignment&, const BuiltWheel&) {
    return absl::InvalidArgumentError("sha256: the digest does not match");
  };
  Start();
  session->Deliver(Assign("x1"));
  ASSERT_TRUE(session->WaitForSent(IsStatus("x1", v1::TASK_STATE_FAILED)));
  EXPECT_EQ(StatusSent(*session, "x1", v1::TASK_STATE_FAILED)->message(),
            "upload of demo-1.0+x1-py3-none-any.whl refused: sha256: the digest does not match");
  EXPECT_THAT(StatusSent(*session, "x1", v1::TASK_STATE_FAILED)->artifact_filenames(), IsEmpty());
}

TEST_F(AgentDaemonTest, AnUploadCutOffIsTriedAgainInTheNextSession) {
  std::shared_ptr<FakeSession> first = link_.Accept(Ack());
  Cancellation tried;
  first->on_upload = [&](const v1::Assignment&, const BuiltWheel&) {
    tried.Cancel("tried");
    return absl::UnavailableError("the connection broke");
  };
  Start();
  first->Deliver(Assign("x1"));
  ASSERT_TRUE(WaitFor(tried));
  std::shared_ptr<FakeSession> second = link_.Accept(Ack());
  first->End();
  ASSERT_TRUE(clock_.WaitForSleeperUntil(link_.OpenTimes()[0] + milliseconds(100)));
  EXPECT_FALSE(StatusSent(*first, "x1", v1::TASK_STATE_SUCCEEDED).has_value());
  clock_.Advance(milliseconds(100));
  ASSERT_TRUE(second->WaitForSent(IsStatus("x1", v1::TASK_STATE_SUCCEEDED)));
  ASSERT_EQ(link_.Hellos()[1].running_size(), 1);  // it registered again holding the attempt
  EXPECT_EQ(link_.Hellos()[1].running(0).attempt_id(), "x1");
  EXPECT_THAT(second->Uploaded(), ElementsAre("demo-1.0+x1-py3-none-any.whl"));
}

TEST_F(AgentDaemonTest, ACancelStopsTheAttemptAndItIsReportedCancelled) {
  run_ = [](const v1::Assignment&, Cancellation& cancel, const AgentDaemon::Send&, const AgentDaemon::Calls&) {
    cancel.Wait();
    TaskResult result;
    result.outcome = TaskOutcome::kCancelled;
    result.message = cancel.reason();
    return result;
  };
  std::shared_ptr<FakeSession> session = link_.Accept(Ack());
  Start();
  session->Deliver(Assign("x1"));
  ASSERT_TRUE(session->WaitForSent(IsStatus("x1", v1::TASK_STATE_RUNNING)));
  v1::CoordinatorMessage cancel;
  cancel.mutable_cancel()->set_attempt_id("x1");
  cancel.mutable_cancel()->set_reason("cancelled by a user");
  session->Deliver(cancel);
  ASSERT_TRUE(session->WaitForSent(IsStatus("x1", v1::TASK_STATE_CANCELLED)));
  EXPECT_EQ(StatusSent(*session, "x1", v1::TASK_STATE_CANCELLED)->message(), "cancelled by a user");
}

TEST_F(AgentDaemonTest, AnAttemptTheCoordinatorAbandonsIsStoppedAndNeverReported) {
  Cancellation stopped;  // fired with the reason the attempt was stopped
  run_ = [&](const v1::Assignment&, Cancellation& cancel, const AgentDaemon::Send&, const AgentDaemon::Calls&) {
    cancel.Wait();
    stopped.Cancel(cancel.reason());
    TaskResult result;
    result.outcome = TaskOutcome::kCancelled;
    return result;
  };
  std::shared_ptr<FakeSession> first = link_.Accept(Ack());
  Start();
  first->Deliver(Assign("x1"));
  ASSERT_TRUE(first->WaitForSent(IsStatus("x1", v1::TASK_STATE_RUNNING)));
  // The coordinator restarts; it no longer wants x1.
  std::shared_ptr<FakeSession> second = link_.Accept(Ack({"x1"}));
  std::shared_ptr<FakeSession> third = link_.Accept(Ack());
  first->End();
  ASSERT_TRUE(clock_.WaitForSleeperUntil(link_.OpenTimes()[0] + milliseconds(100)));
  clock_.Advance(milliseconds(100));
  ASSERT_TRUE(link_.WaitForOpens(2));
  EXPECT_EQ(link_.Hellos()[1].running(0).attempt_id(), "x1");
  ASSERT_TRUE(WaitFor(stopped));
  EXPECT_EQ(stopped.reason(), "the coordinator no longer wants this attempt");
  second->End();
  ASSERT_TRUE(clock_.WaitForSleeperUntil(link_.OpenTimes()[1] + milliseconds(100)));
  clock_.Advance(milliseconds(100));
  ASSERT_TRUE(link_.WaitForOpens(3));
  EXPECT_THAT(link_.Hellos()[2].running(), IsEmpty());  // forgotten, not carried along
  for (const FakeSession* session : {first.get(), second.get(), third.get()}) {
    EXPECT_FALSE(StatusSent(*session, "x1", v1::TASK_STATE_CANCELLED).has_value());
  }
}

}  // namespace
}  // namespace cwb
