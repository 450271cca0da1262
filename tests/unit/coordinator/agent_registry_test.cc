// The agent registry on a fake clock: registration and reconciliation, sessions replaced and
// ended, heartbeats, leases running out.
#include "coordinator/agent_registry.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/fake_clock.h"
#include "tests/unit/coordinator/coordinator_parts.h"

namespace cwb {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using testing::FakeClock;
using testing::MakeBuildHeader;
using testing::MakeTask;
using testing::RecordingChannel;

class AgentRegistryTest : public ::testing::Test {
 protected:
  AgentRegistryTest() {
    std::vector<TaskRecord> tasks;
    for (const char* id : {"t1", "t2"}) tasks.push_back(MakeTask("b1", id));
    tasks_.AddBuild(MakeBuildHeader("b1"), std::move(tasks));
  }
  absl::StatusOr<v1::RegisterAck> Register(const std::string& id, std::shared_ptr<RecordingChannel> channel,
                                           std::vector<std::string> running = {}) {
    v1::Register request;
    request.set_agent_id(id);
    request.mutable_capabilities()->set_slots(2);
    for (const std::string& attempt : running) request.add_running()->set_attempt_id(attempt);
    return registry_.Register(request, std::move(channel), changes_);
  }
  TaskRecord& Task(const std::string& id) { return *tasks_.Find("b1", id); }

  FakeClock clock_;
  testing::SetQueue queue_;
  TaskTable tasks_{queue_, 3};
  AgentRegistry registry_{{std::chrono::seconds(2), std::chrono::seconds(10), std::chrono::milliseconds(500)},
                          clock_,
                          tasks_};
  ChangeSet changes_;
  testing::TestReceivers receivers_;
};

TEST_F(AgentRegistryTest, RegistrationAcksFirstAndMovesTheEpoch) {
  auto channel = std::make_shared<RecordingChannel>();
  receivers_.channels["a1"] = channel;
  const uint64_t before = registry_.epoch();
  absl::StatusOr<v1::RegisterAck> ack = Register("a1", channel);
  ASSERT_TRUE(ack.ok()) << ack.status();
  EXPECT_EQ(ack->lease_ms(), 10000u);
  EXPECT_EQ(ack->heartbeat_interval_ms(), 2000u);
  EXPECT_GT(registry_.epoch(), before);
  EXPECT_EQ(registry_.connected(), 1u);
  EXPECT_TRUE(changes_.TakeScheduleRequest());
  CommitWriter::Commit commit = changes_.Take(receivers_.Get());
  ASSERT_EQ(commit.batch.agents.size(), 1u);
  EXPECT_TRUE(commit.batch.agents[0].connected());
  testing::Deliver(commit);
  ASSERT_EQ(channel->sent.size(), 1u);
  EXPECT_TRUE(channel->sent[0].has_ack());
}

TEST_F(AgentRegistryTest, AnAgentWithoutAnIdIsRefused) {
  EXPECT_TRUE(absl::IsInvalidArgument(Register("", std::make_shared<RecordingChannel>()).status()));
}

TEST_F(AgentRegistryTest, ComingBackKeepsItsCurrentAttemptsAndAbandonsTheRest) {
  ASSERT_TRUE(Register("a1", std::make_shared<RecordingChannel>()).ok());
  tasks_.StartAttempt(Task("t1"), "x1", "a1", {}, 0, 1000, changes_);
  tasks_.StartAttempt(Task("t2"), "x2", "a1", {}, 0, 1000, changes_);
  // Back with x1 (current) and x9 (unknown), without x2.
  auto channel = std::make_shared<RecordingChannel>();
  absl::StatusOr<v1::RegisterAck> ack = Register("a1", channel, {"x1", "x9"});
  ASSERT_TRUE(ack.ok());
  EXPECT_THAT(ack->abandon_attempts(), ElementsAre("x9"));
  EXPECT_THAT(tasks_.AttemptsOf("a1"), ElementsAre("x1"));
  EXPECT_EQ(Task("t2").info.state(), v1::TASK_STATE_QUEUED);
  EXPECT_THAT(Task("t2").info.message(), ::testing::HasSubstr("agent a1 came back without it"));
}

TEST_F(AgentRegistryTest, ANewSessionClosesTheOldOneAndTheOldOnesEndIsIgnored) {
  auto old_channel = std::make_shared<RecordingChannel>();
  auto new_channel = std::make_shared<RecordingChannel>();
  ASSERT_TRUE(Register("a1", old_channel).ok());
  ASSERT_TRUE(Register("a1", new_channel).ok());
  EXPECT_TRUE(old_channel->closed);
  registry_.Disconnected("a1", old_channel.get(), changes_);
  EXPECT_EQ(registry_.ChannelOf("a1"), new_channel);
  registry_.Disconnected("a1", new_channel.get(), changes_);
  EXPECT_EQ(registry_.ChannelOf("a1"), nullptr);
  EXPECT_EQ(registry_.connected(), 0u);
}

TEST_F(AgentRegistryTest, ASilentAgentLosesItsAttemptsWhenTheLeaseRunsOut) {
  auto channel = std::make_shared<RecordingChannel>();
  ASSERT_TRUE(Register("a1", channel).ok());
  tasks_.StartAttempt(Task("t1"), "x1", "a1", {}, 0, 1000, changes_);
  clock_.Advance(std::chrono::seconds(9));
  registry_.Heartbeat("a1", channel.get());  // renews the lease
  clock_.Advance(std::chrono::seconds(9));
  registry_.ExpireLeases(changes_);
  EXPECT_EQ(Task("t1").info.state(), v1::TASK_STATE_ASSIGNED);
  clock_.Advance(std::chrono::seconds(2));
  registry_.ExpireLeases(changes_);
  EXPECT_EQ(Task("t1").info.state(), v1::TASK_STATE_QUEUED);
  EXPECT_EQ(Task("t1").info.message(), "agent a1 was silent for more than 10000 ms; queued again (1 of 3 attempts used)");
  EXPECT_TRUE(channel->closed);
  EXPECT_EQ(registry_.connected(), 0u);
  EXPECT_THAT(tasks_.AttemptsOf("a1"), IsEmpty());
}

TEST_F(AgentRegistryTest, AHeartbeatOnAReplacedSessionDoesNotRenewTheLease) {
  auto old_channel = std::make_shared<RecordingChannel>();
  ASSERT_TRUE(Register("a1", old_channel).ok());
  ASSERT_TRUE(Register("a1", std::make_shared<RecordingChannel>()).ok());
  clock_.Advance(std::chrono::seconds(9));
  registry_.Heartbeat("a1", old_channel.get());
  clock_.Advance(std::chrono::seconds(2));
  registry_.ExpireLeases(changes_);
  EXPECT_EQ(registry_.connected(), 0u);
}

TEST_F(AgentRegistryTest, LeasesAreLookedAtAtMostOncePerCheckInterval) {
  ASSERT_TRUE(Register("a1", std::make_shared<RecordingChannel>()).ok());
  clock_.Advance(std::chrono::milliseconds(9800));
  registry_.ExpireLeases(changes_);  // looked at now; next at 10.3 s
  clock_.Advance(std::chrono::milliseconds(300));
  registry_.ExpireLeases(changes_);  // silent for 10.1 s, but not looked at yet
  EXPECT_EQ(registry_.connected(), 1u);
  clock_.Advance(std::chrono::milliseconds(200));
  registry_.ExpireLeases(changes_);
  EXPECT_EQ(registry_.connected(), 0u);
}

TEST_F(AgentRegistryTest, LoadedAgentsStartDisconnectedAndListShowsRunningAttempts) {
  v1::AgentInfo stored;
  stored.set_agent_id("a2");
  stored.set_connected(true);
  stored.add_running_attempts("stale");
  registry_.Load({stored});
  ASSERT_TRUE(Register("a1", std::make_shared<RecordingChannel>()).ok());
  tasks_.StartAttempt(Task("t1"), "x1", "a1", {}, 0, 1000, changes_);
  std::vector<v1::AgentInfo> agents = registry_.List();
  ASSERT_EQ(agents.size(), 2u);
  EXPECT_THAT(agents[0].running_attempts(), ElementsAre("b1/t1/x1"));
  EXPECT_FALSE(agents[1].connected());
  EXPECT_THAT(agents[1].running_attempts(), IsEmpty());
}

}  // namespace
}  // namespace cwb
