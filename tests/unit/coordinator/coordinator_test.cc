// The coordinator's task state machine, leases, reconciliation and restart, driven by a fake
// clock and fake agent channels (no gRPC), with real SQLite in a temporary directory.
#include "coordinator/coordinator.h"

#include <sqlite3.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/base/digest.h"
#include "common/config/builtin_template.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/coordinator/coordinator_fixture.h"

namespace cwb {
namespace {

namespace fs = std::filesystem;
using namespace cwb::testing;

TEST_F(CoordinatorTest, QueuedTasksSayWhyUntilAnAgentComes) {
  const std::string build = Submit();
  coordinator_->Tick();
  EXPECT_EQ(Task(build, 0).state(), v1::TASK_STATE_QUEUED);
  EXPECT_EQ(Task(build, 0).waiting_reason(), "waiting: no agent is connected");
  auto agent = Connect("a1", 1);
  coordinator_->Tick();
  ASSERT_EQ(agent->Assignments().size(), 1u);  // one slot
  EXPECT_EQ(Task(build, 0).state(), v1::TASK_STATE_ASSIGNED);
  EXPECT_EQ(Task(build, 0).agent_id(), "a1");
  EXPECT_EQ(Task(build, 1).waiting_reason(), "waiting: every agent that can run it is busy");
  ASSERT_TRUE(agent->sent.front().has_ack());  // the ack goes out first
}

TEST_F(CoordinatorTest, SilentAgentLosesItsTaskWhichRunsElsewhere) {
  const std::string build = Submit();
  auto first = Connect("a1", 1);
  coordinator_->Tick();
  const v1::Assignment lost = first->Assignments()[0];
  clock_.Advance(std::chrono::seconds(9));
  coordinator_->Heartbeat("a1", first.get());
  clock_.Advance(std::chrono::seconds(9));
  coordinator_->Tick();
  EXPECT_EQ(Task(build, 0).state(), v1::TASK_STATE_ASSIGNED);  // the heartbeat renewed the lease
  clock_.Advance(std::chrono::seconds(2));
  auto second = Connect("a2", 2);
  coordinator_->Tick();
  EXPECT_TRUE(first->closed);
  v1::TaskInfo task = Task(build, 0);
  EXPECT_EQ(task.agent_id(), "a2");
  EXPECT_EQ(task.attempts(), 2u);
  EXPECT_NE(task.attempt_id(), lost.attempt_id());
  // The first agent's late result is refused.
  Report("a1", lost, v1::TASK_STATE_FAILED);
  EXPECT_EQ(Task(build, 0).state(), v1::TASK_STATE_ASSIGNED);
}

TEST_F(CoordinatorTest, RetryLimitEndsInFailureWithTheReason) {
  const std::string build = Submit();
  for (int i = 0; i < 2; ++i) {
    auto agent = Connect("a" + std::to_string(i), 2);
    coordinator_->Tick();
    clock_.Advance(std::chrono::seconds(11));
    coordinator_->Tick();
  }
  v1::TaskInfo task = Task(build, 0);
  EXPECT_EQ(task.state(), v1::TASK_STATE_FAILED);
  EXPECT_EQ(task.attempts(), 2u);
  EXPECT_THAT(task.message(), ::testing::MatchesRegex(".*silent for more than 10000 ms; gave up after 2 attempts"));
}

TEST_F(CoordinatorTest, OutOfMemoryIsRetriedOnceWithHalfTheJobsAndItsPeakLearnt) {
  const std::string build = Submit();
  auto channel = std::make_shared<RecordingChannel>();
  v1::Register reg;
  reg.set_agent_id("a1");
  reg.mutable_capabilities()->set_slots(4);
  reg.mutable_capabilities()->set_cpu_cores(4);
  reg.mutable_capabilities()->set_memory_bytes(8ull << 30);
  reg.mutable_capabilities()->set_max_jobs(4);
  absl::StatusOr<v1::RegisterAck> ack = coordinator_->Register(reg, channel);
  ASSERT_TRUE(ack.ok());
  sessions_["a1"] = ack->session();
  coordinator_->Tick();
  ASSERT_EQ(channel->Assignments().size(), 2u);  // both tasks: 1 core and 2 GiB each by default
  const v1::Assignment first = channel->Assignments()[0];
  EXPECT_EQ(first.share().jobs(), 4u);  // a first build: the agent's --max-jobs
  EXPECT_EQ(Task(build, 0).share().jobs(), 4u);
  auto out_of_memory = [&](const v1::Assignment& a) {
    Report("a1", a, v1::TASK_STATE_RUNNING);
    v1::TaskStatusUpdate update;
    update.set_build_id(a.build_id());
    update.set_task_id(a.spec().id());
    update.set_attempt_id(a.attempt_id());
    update.set_state(v1::TASK_STATE_FAILED);
    update.set_message("out of memory (peak 8.00 GiB of 8.00 GiB)");
    update.mutable_use()->set_peak_memory_bytes(8ull << 30);
    update.mutable_use()->set_jobs(a.share().jobs());
    update.mutable_use()->set_out_of_memory(true);
    coordinator_->OnStatus("a1", update);
  };
  out_of_memory(first);
  coordinator_->Tick();
  v1::TaskInfo task = Task(build, 0);
  EXPECT_EQ(task.state(), v1::TASK_STATE_QUEUED);  // it needs all 8 GiB now: it waits for the other task
  EXPECT_TRUE(task.memory_retried());
  EXPECT_EQ(task.message(), "out of memory (peak 8.00 GiB of 8.00 GiB); queued again with half the jobs");
  EXPECT_EQ(task.waiting_reason(), Dispatcher::kShortOfResources);  // slots are free; memory is not
  Succeed("a1", channel->Assignments()[1], std::chrono::seconds(1));
  coordinator_->Tick();
  task = Task(build, 0);
  EXPECT_EQ(task.state(), v1::TASK_STATE_ASSIGNED);
  EXPECT_EQ(task.attempts(), 2u);
  ASSERT_EQ(channel->Assignments().size(), 3u);
  const v1::Assignment second = channel->Assignments()[2];
  EXPECT_EQ(second.spec().id(), first.spec().id());
  EXPECT_EQ(second.share().jobs(), 2u);
  EXPECT_EQ(second.share().memory_bytes(), 8ull << 30);  // the peak it reached, all the agent has
  EXPECT_TRUE(second.share().predicted());
  out_of_memory(second);  // once only
  task = Task(build, 0);
  EXPECT_EQ(task.state(), v1::TASK_STATE_FAILED);
  EXPECT_EQ(task.message(), "out of memory (peak 8.00 GiB of 8.00 GiB)");
  EXPECT_TRUE(task.use().out_of_memory());
}

TEST_F(CoordinatorTest, CancelTellsTheAgentAndEndsTheTaskOnce) {
  const std::string build = Submit();
  auto agent = Connect("a1", 2);
  coordinator_->Tick();
  const v1::Assignment a = agent->Assignments()[0];
  EXPECT_EQ(coordinator_->Cancel(build, "", kSubmitter).value(), 2u);
  EXPECT_THAT(agent->Cancels(), ::testing::Contains(a.attempt_id()));
  EXPECT_EQ(Task(build, 0).state(), v1::TASK_STATE_CANCELLED);
  Report("a1", a, v1::TASK_STATE_CANCELLED);  // the agent confirms: nothing changes
  EXPECT_EQ(coordinator_->GetBuild(build)->cancelled(), 2u);
  EXPECT_EQ(coordinator_->Retry(build, {}, kSubmitter).value(), 2u);
  EXPECT_EQ(Task(build, 0).state(), v1::TASK_STATE_ASSIGNED);  // queued, and given to the free agent at once
  EXPECT_EQ(Task(build, 0).message(), "retried by a user");
  EXPECT_TRUE(absl::IsNotFound(coordinator_->Cancel("nope", "", kSubmitter).status()));
  EXPECT_TRUE(absl::IsNotFound(coordinator_->Retry(build, {"nope"}, kSubmitter).status()));
}

// Four tasks: the matrix of kConfig with two more torch versions.
constexpr char kFourTorches[] = R"(build_matrix:
  python_version: [3.11]
  cuda_version: [cpu]
  pytorch_version: [2.2.0, 2.3.0, 2.4.0, 2.5.0]
projects:
  - name: demo
    repo_url: https://example.com/demo.git
pytorch_base_images:
  "2.2.0": {cpu: base:1}
  "2.3.0": {cpu: base:1}
  "2.4.0": {cpu: base:1}
  "2.5.0": {cpu: base:1}
)";

TEST_F(CoordinatorTest, MaxParallelCapsABuildsRunningTasksNotOtherBuilds) {
  const std::string capped = Submit(absl::StrCat(kFourTorches, "max_parallel: 2\n"));
  EXPECT_EQ(coordinator_->GetBuild(capped)->max_parallel(), 2u);
  auto agent = Connect("a1", 8);
  coordinator_->Tick();
  ASSERT_EQ(agent->Assignments().size(), 2u);  // 8 free slots, but the build allows 2 at once
  const std::string other = Submit();
  coordinator_->Tick();
  EXPECT_EQ(agent->Assignments().size(), 4u);  // the other build is not held back
  Succeed("a1", agent->Assignments()[0], std::chrono::seconds(1));
  EXPECT_EQ(agent->Assignments().size(), 5u);  // one of its own ended: the next is assigned at once
  EXPECT_EQ(agent->Assignments()[4].build_id(), capped);
  Restart();  // the limit is part of the stored build
  EXPECT_EQ(coordinator_->GetBuild(capped)->max_parallel(), 2u);
}

TEST_F(CoordinatorTest, FailFastCancelsTheRestOfTheBuildAtTheFirstFailure) {
  const std::string build = Submit(absl::StrCat(kFourTorches, "fail_fast: true\n"));
  const std::string other = Submit();  // without fail_fast: unaffected
  auto agent = Connect("a1", 3);
  coordinator_->Tick();
  ASSERT_EQ(agent->Assignments().size(), 3u);
  const v1::Assignment failing = agent->Assignments()[0];
  Report("a1", failing, v1::TASK_STATE_RUNNING);
  Report("a1", agent->Assignments()[1], v1::TASK_STATE_RUNNING);
  Report("a1", failing, v1::TASK_STATE_FAILED);
  v1::BuildInfo info = *coordinator_->GetBuild(build);
  EXPECT_EQ(info.failed(), 1u);
  EXPECT_EQ(info.cancelled(), 3u);  // the running ones and the queued one
  EXPECT_TRUE(info.finished());
  for (const v1::TaskInfo& task : info.tasks()) {
    if (task.state() == v1::TASK_STATE_CANCELLED) {
      EXPECT_EQ(task.message(), absl::StrCat("fail_fast: task ", failing.spec().id(), " failed"));
    }
  }
  EXPECT_THAT(agent->Cancels(), ::testing::Contains(agent->Assignments()[1].attempt_id()));
  EXPECT_EQ(coordinator_->GetBuild(other)->cancelled(), 0u);
  // Off by default: a failure in the other build leaves its other task alone.
  coordinator_->Tick();
  for (const v1::Assignment& a : agent->Assignments()) {
    if (a.build_id() == other) {
      Report("a1", a, v1::TASK_STATE_FAILED);
      break;
    }
  }
  EXPECT_EQ(coordinator_->GetBuild(other)->cancelled(), 0u);
}

TEST_F(CoordinatorTest, OnlyItsSubmitterOrAnAdminChangesABuild) {
  const std::string build = Submit();
  EXPECT_EQ(coordinator_->GetBuild(build, v1::TASK_VIEW_NONE)->submitted_by(), "ci");
  const Principal other{"nightly", Role::kSubmit};
  absl::StatusOr<uint32_t> denied = coordinator_->Cancel(build, "", other);
  ASSERT_TRUE(absl::IsPermissionDenied(denied.status()));
  EXPECT_EQ(denied.status().message(),
            absl::StrCat("build ", build, " was submitted by ci; cancelling another's build needs the admin role"));
  EXPECT_TRUE(absl::IsPermissionDenied(coordinator_->Retry(build, {}, other).status()));
  EXPECT_EQ(coordinator_->GetBuild(build, v1::TASK_VIEW_NONE)->cancelled(), 0u);
  EXPECT_EQ(coordinator_->Cancel(build, "", {"root", Role::kAdmin}).value(), 2u);
  EXPECT_EQ(coordinator_->Retry(build, {}, kSubmitter).value(), 2u);
}

TEST_F(CoordinatorTest, FailFastAndMaxParallelComeWithThePlan) {
  const std::string build = Submit(absl::StrCat(kConfig, "fail_fast: true\nmax_parallel: 1\n"));
  v1::BuildInfo info = coordinator_->GetBuild(build, v1::TASK_VIEW_NONE).value();
  EXPECT_TRUE(info.fail_fast());
  EXPECT_EQ(info.max_parallel(), 1u);
  EXPECT_EQ(info.config_name(), "c.yaml");
}

TEST_F(CoordinatorTest, RestartResumesAndReconcilesRunningAttempts) {
  const std::string build = Submit();
  auto agent = Connect("a1", 2);
  coordinator_->Tick();
  const auto assignments = agent->Assignments();
  ASSERT_EQ(assignments.size(), 2u);
  Report("a1", assignments[0], v1::TASK_STATE_RUNNING);

  Restart();  // the coordinator dies and comes back from SQLite
  EXPECT_EQ(Task(build, 0).state(), v1::TASK_STATE_RUNNING);
  coordinator_->Tick();
  EXPECT_EQ(Task(build, 0).state(), v1::TASK_STATE_RUNNING);  // within the grace: not lost

  // The agent comes back still running the first attempt only.
  v1::RunningAttempt running;
  running.set_build_id(build);
  running.set_task_id(assignments[0].spec().id());
  running.set_attempt_id(assignments[0].attempt_id());
  v1::RegisterAck ack;
  auto again = Connect("a1", 2, {running}, &ack);
  EXPECT_TRUE(ack.abandon_attempts().empty());
  coordinator_->Tick();
  v1::TaskInfo first = Task(build, 0), second = Task(build, 1);
  EXPECT_EQ(first.attempt_id(), assignments[0].attempt_id());  // reconciled, not run again
  EXPECT_EQ(first.attempts(), 1u);
  EXPECT_EQ(second.attempts(), 2u);  // the agent had lost it: it was queued and assigned again
  ASSERT_EQ(again->Assignments().size(), 1u);
  EXPECT_EQ(again->Assignments()[0].spec().id(), second.spec().id());
}

TEST_F(CoordinatorTest, RestartRemovesDebrisButKeepsCurrentUploads) {
  const std::string build = Submit();
  auto agent = Connect("a1", 2);
  coordinator_->Tick();
  const v1::Assignment current = agent->Assignments()[0];
  ASSERT_TRUE(Upload(current, "demo-1.0-cp311-cp311-linux_x86_64.whl", "wheel").ok());
  const fs::path uploads = options_.data_dir / "uploads";
  std::ofstream(uploads / current.attempt_id() / ".demo-1.0-py3-none-any.whl.cwb-tmp-1-0") << "partial";
  fs::create_directories(uploads / "a-gone");
  std::ofstream(uploads / "a-gone" / "old-1.0-py3-none-any.whl") << "stale";
  Restart();
  EXPECT_TRUE(fs::exists(uploads / current.attempt_id() / "demo-1.0-cp311-cp311-linux_x86_64.whl"));
  EXPECT_FALSE(fs::exists(uploads / current.attempt_id() / ".demo-1.0-py3-none-any.whl.cwb-tmp-1-0"));
  EXPECT_FALSE(fs::exists(uploads / "a-gone"));
}

TEST_F(CoordinatorTest, AgentThatNeverReturnsAfterARestartLosesItsTasks) {
  const std::string build = Submit();
  auto agent = Connect("a1", 2);
  coordinator_->Tick();
  Restart();
  clock_.Advance(std::chrono::seconds(11));
  coordinator_->Tick();
  EXPECT_EQ(Task(build, 0).state(), v1::TASK_STATE_QUEUED);
  EXPECT_THAT(Task(build, 0).message(), ::testing::HasSubstr("agent a1 was silent"));
  EXPECT_EQ(Task(build, 0).waiting_reason(), "waiting: no agent is connected");
}

TEST_F(CoordinatorTest, StaleAttemptReportedOnRegisterIsAbandoned) {
  const std::string build = Submit();
  v1::RunningAttempt ghost;
  ghost.set_build_id(build);
  ghost.set_task_id("whatever");
  ghost.set_attempt_id("a000000000000");
  v1::RegisterAck ack;
  Connect("a1", 1, {ghost}, &ack);
  EXPECT_THAT(ack.abandon_attempts(), ::testing::ElementsAre("a000000000000"));
}

TEST_F(CoordinatorTest, WatchersSeeEveryChangeAndTheEnd) {
  const std::string build = Submit();
  v1::BuildInfo snapshot;
  auto watcher = coordinator_->Watch(build, &snapshot);
  ASSERT_TRUE(watcher.ok());
  EXPECT_EQ(snapshot.tasks_size(), 2);
  ASSERT_TRUE(coordinator_->Cancel(build, "", kSubmitter).ok());
  v1::BuildEvent event;
  ASSERT_TRUE((*watcher)->Next(&event, std::chrono::milliseconds(0)));
  EXPECT_FALSE(event.build_finished());
  ASSERT_TRUE((*watcher)->Next(&event, std::chrono::milliseconds(0)));
  EXPECT_TRUE(event.build_finished());
  EXPECT_EQ(event.task().state(), v1::TASK_STATE_CANCELLED);
}

TEST_F(CoordinatorTest, ABadPlanIsRefusedNamingTheFieldAndNothingIsStored) {
  v1::SubmitBuildRequest request = testing::SubmissionOf(kConfig);
  request.mutable_plan()->mutable_tasks(1)->set_build_command("make other");  // its id no longer fits
  absl::StatusOr<v1::BuildInfo> build = coordinator_->Submit(request, kSubmitter);
  ASSERT_TRUE(absl::IsInvalidArgument(build.status()));
  EXPECT_THAT(std::string(build.status().message()), ::testing::StartsWith("plan.tasks[1].id: "));
  EXPECT_TRUE(coordinator_->ListBuilds()->empty());
  Restart();
  EXPECT_TRUE(coordinator_->ListBuilds()->empty());
}

TEST_F(CoordinatorTest, ADockerfileIsStoredOnceAndGoesOutWithEachAssignment) {
  const v1::SubmitBuildRequest request = testing::SubmissionOf(kConfig);
  ASSERT_EQ(request.dockerfiles_size(), 2);  // one image per PyTorch version
  std::map<std::string, std::string> sent;
  for (const v1::RenderedDockerfile& dockerfile : request.dockerfiles()) sent[dockerfile.content_hash()] = dockerfile.text();
  Submit();
  Submit();  // the same images again
  Restart();
  auto agent = Connect("a1", 4);
  coordinator_->Tick();
  ASSERT_EQ(agent->Assignments().size(), 4u);
  for (const v1::Assignment& assignment : agent->Assignments()) {
    EXPECT_EQ(assignment.spec().image().dockerfile(), sent[assignment.spec().image().content_hash()]);
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((options_.data_dir / "state.sqlite3").c_str(), &db), SQLITE_OK);
  sqlite3_stmt* count = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM images", -1, &count, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(count), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(count, 0), 2);
  sqlite3_finalize(count);
  sqlite3_close(db);
}

TEST_F(CoordinatorTest, UnchangedTasksAtTheSameCommitReuseTheirWheelsWithoutAnAgent) {
  const std::string commit_a(40, 'a'), commit_b(40, 'b');
  commits_[{"https://example.com/demo.git", ""}] = commit_a;
  const std::string first = Submit();
  auto agent = Connect("a1", 2);
  coordinator_->Tick();
  for (const v1::Assignment& a : agent->Assignments()) Succeed("a1", a, std::chrono::seconds(5), commit_a);
  ASSERT_TRUE(coordinator_->GetBuild(first)->finished());

  // The same matrix at the same commit: finished at submit, the same files, nothing assigned.
  const std::string second = Submit();
  v1::BuildInfo reused = coordinator_->GetBuild(second).value();
  EXPECT_TRUE(reused.finished());
  EXPECT_EQ(reused.succeeded(), 2u);
  for (int i = 0; i < 2; ++i) {
    const v1::TaskInfo& task = reused.tasks(i);
    EXPECT_EQ(task.commit(), commit_a);
    EXPECT_EQ(task.attempts(), 0u);
    EXPECT_THAT(task.message(), ::testing::HasSubstr("reused the wheels of build " + first));
    ASSERT_EQ(task.artifacts_size(), 1);
    auto mine = coordinator_->FindArtifact(second, task.spec().id(), task.artifacts(0).filename());
    auto theirs = coordinator_->FindArtifact(first, task.spec().id(), task.artifacts(0).filename());
    ASSERT_TRUE(mine.ok() && theirs.ok());
    EXPECT_NE(mine->second, theirs->second);
    EXPECT_TRUE(fs::equivalent(mine->second, theirs->second));  // a hard link, not a copy
    EXPECT_THAT(coordinator_->logs().Read(second, task.spec().id(), 0, 4096).value(),
                ::testing::HasSubstr("[cwb] result cache: reused the wheels of build " + first));
  }
  coordinator_->Tick();
  EXPECT_EQ(agent->Assignments().size(), 2u);  // still only the first build's two

  // It survives a restart.
  Restart();
  agent = Connect("a1", 2);
  EXPECT_TRUE(coordinator_->GetBuild(Submit())->finished());

  // --no-cache builds anyway; a new commit builds anew.
  const std::string forced = Submit(kConfig, /*no_cache=*/true);
  EXPECT_EQ(coordinator_->GetBuild(forced)->succeeded(), 0u);
  commits_[{"https://example.com/demo.git", ""}] = commit_b;
  const std::string moved = Submit();
  EXPECT_EQ(coordinator_->GetBuild(moved)->succeeded(), 0u);
  // A source that cannot be resolved is simply built.
  commits_.clear();
  EXPECT_EQ(coordinator_->GetBuild(Submit())->succeeded(), 0u);
}

TEST_F(CoordinatorTest, ReusedResultWhoseWheelsAreGoneIsBuiltAgain) {
  const std::string commit(40, 'c');
  commits_[{"https://example.com/demo.git", ""}] = commit;
  const std::string first = Submit();
  auto agent = Connect("a1", 2);
  coordinator_->Tick();
  for (const v1::Assignment& a : agent->Assignments()) Succeed("a1", a, std::chrono::seconds(1), commit);
  fs::remove_all(options_.data_dir / "builds" / first);
  const std::string second = Submit();
  v1::BuildInfo build = coordinator_->GetBuild(second).value();
  EXPECT_EQ(build.succeeded(), 0u);
  EXPECT_EQ(build.tasks(0).state(), v1::TASK_STATE_ASSIGNED);  // built again
  EXPECT_FALSE(fs::exists(options_.data_dir / "builds" / second));  // nothing half-shared
}

TEST_F(CoordinatorTest, TasksThatTookLongestBeforeStartFirst) {
  const std::string first = Submit(kFourTorches);
  auto agent = Connect("a1", 1);
  // Matrix order while nothing is known; each takes longer than the one before.
  std::vector<std::string> order;
  for (int i = 0; i < 4; ++i) {
    coordinator_->Tick();
    const v1::Assignment a = agent->Assignments().back();
    order.push_back(a.spec().id());
    Succeed("a1", a, std::chrono::milliseconds(100 * (i + 1)));
  }
  v1::BuildInfo build = coordinator_->GetBuild(first).value();
  for (int i = 0; i < 4; ++i) EXPECT_EQ(order[i], build.tasks(i).spec().id());

  // The next build of the same targets starts the longest first. Survives a restart too.
  Restart();
  agent = Connect("a1", 1);
  const std::string second = Submit(kFourTorches);
  std::vector<std::string> next;
  for (int i = 0; i < 4; ++i) {
    coordinator_->Tick();
    const v1::Assignment a = agent->Assignments().back();
    next.push_back(a.spec().id());
    Succeed("a1", a, std::chrono::seconds(1));
  }
  EXPECT_THAT(next, ::testing::ElementsAre(order[3], order[2], order[1], order[0]));
}

TEST_F(CoordinatorTest, ARunningBuildsProgressIsShownWithTheTimeLeftFromItsLastBuild) {
  auto agent = Connect("a1", 1);
  auto progress = [&](const v1::Assignment& a, uint32_t done, uint32_t total) {
    v1::LogBatch batch;
    batch.set_build_id(a.build_id());
    batch.set_task_id(a.spec().id());
    batch.set_attempt_id(a.attempt_id());
    batch.add_lines()->set_text("[x/y] ...");
    batch.mutable_progress()->set_done(done);
    batch.mutable_progress()->set_total(total);
    coordinator_->OnLogs("a1", batch);
    return coordinator_->GetTask(a.build_id(), a.spec().id())->progress();
  };
  // Never built: the time left follows the pace so far.
  const std::string first = Submit();
  coordinator_->Tick();
  v1::Assignment a = agent->Assignments().back();
  EXPECT_EQ(progress(a, 1, 4).total(), 0u);  // not running yet: nothing to show
  Report("a1", a, v1::TASK_STATE_RUNNING);
  clock_.Advance(std::chrono::seconds(30));
  v1::BuildProgress shown = progress(a, 1, 4);
  EXPECT_EQ(shown.done(), 1u);
  EXPECT_EQ(shown.total(), 4u);
  EXPECT_EQ(shown.left_ms(), 90000);  // a quarter took 30 s
  EXPECT_EQ(shown.reported_at_ms(),
            std::chrono::duration_cast<std::chrono::milliseconds>(clock_.WallNow().time_since_epoch()).count());
  clock_.Advance(std::chrono::seconds(90));
  Succeed("a1", a, std::chrono::seconds(0));
  EXPECT_EQ(coordinator_->GetTask(first, a.spec().id())->progress().total(), 0u);  // ended: none shown
  coordinator_->Tick();
  Succeed("a1", agent->Assignments().back(), std::chrono::seconds(120));

  // Built before (each target in 120 s): the time left is that build's for the part not done.
  Submit(kConfig, /*no_cache=*/true);
  coordinator_->Tick();
  a = agent->Assignments().back();
  Report("a1", a, v1::TASK_STATE_RUNNING);
  clock_.Advance(std::chrono::seconds(5));
  EXPECT_EQ(progress(a, 3, 4).left_ms(), 30000);
}

TEST_F(CoordinatorTest, EarlierBuildsGoFirstAndEachTaskWaitsForAnAgentThatCanRunIt) {
  constexpr char kGpuAndCpu[] = R"(build_matrix:
  python_version: [3.11]
  cuda_version: ["12.4", cpu]
  pytorch_version: [2.4.0]
projects:
  - name: demo
    repo_url: https://example.com/demo.git
    build_needs_gpu: true
pytorch_base_images:
  "2.4.0": {"12.4": base:cu, cpu: base:1}
)";
  const std::string first = Submit(kGpuAndCpu);
  const std::string second = Submit();
  auto cpu = Connect("cpu", 3);
  coordinator_->Tick();
  // The GPU task waits, saying why; the CPU one of the first build goes before the second build's.
  v1::BuildInfo build = coordinator_->GetBuild(first).value();
  EXPECT_EQ(build.tasks(0).state(), v1::TASK_STATE_QUEUED);
  EXPECT_EQ(build.tasks(0).waiting_reason(), "waiting: no connected agent can run it (needs a GPU)");
  ASSERT_EQ(cpu->Assignments().size(), 3u);
  EXPECT_EQ(cpu->Assignments()[0].build_id(), first);
  EXPECT_EQ(cpu->Assignments()[1].build_id(), second);
  // Assignments carry the rendered Dockerfile; views do not.
  EXPECT_FALSE(cpu->Assignments()[0].spec().image().dockerfile().empty());
  EXPECT_TRUE(build.tasks(1).spec().image().dockerfile().empty());
  v1::AgentCapabilities caps;
  caps.set_slots(1);
  caps.add_gpus()->set_index(0);
  caps.set_driver_cuda_version("12.8");
  v1::Register reg;
  reg.set_agent_id("gpu");
  *reg.mutable_capabilities() = caps;
  auto gpu = std::make_shared<RecordingChannel>();
  ASSERT_TRUE(coordinator_->Register(reg, gpu).ok());
  coordinator_->Tick();
  ASSERT_EQ(gpu->Assignments().size(), 1u);
  EXPECT_EQ(gpu->Assignments()[0].spec().id(), build.tasks(0).spec().id());
}

TEST_F(CoordinatorTest, DatabaseOfTheFirstSchemaIsUpgradedInPlace) {
  // A queued task as the first schema stored it: the whole spec, with the template it was
  // rendered from instead of the Dockerfile, in its row.
  const std::string build = Submit();
  auto agent = Connect("a1", 1);
  coordinator_->Tick();
  const v1::TaskSpec spec = agent->Assignments()[0].spec();
  ASSERT_FALSE(spec.image().dockerfile().empty());
  v1::TaskSpec stored_spec = spec;
  stored_spec.mutable_image()->clear_dockerfile();
  stored_spec.mutable_image()->set_dockerfile_template(std::string(BuiltinDockerfileTemplate()));
  stored_spec.mutable_image()->set_template_origin("builtin");
  coordinator_.reset();
  fs::remove_all(options_.data_dir);
  fs::create_directories(options_.data_dir);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((options_.data_dir / "state.sqlite3").c_str(), &db), SQLITE_OK);
  v1::BuildInfo header;
  header.set_build_id("b000000000001");
  header.set_config_name("old.yaml");
  v1::TaskInfo task;
  task.set_build_id(header.build_id());
  *task.mutable_spec() = stored_spec;
  task.set_state(v1::TASK_STATE_QUEUED);
  const std::string sql = R"sql(
    CREATE TABLE builds (build_id TEXT PRIMARY KEY, seq INTEGER NOT NULL, info BLOB NOT NULL);
    CREATE TABLE tasks (build_id TEXT NOT NULL REFERENCES builds(build_id), task_id TEXT NOT NULL,
      seq INTEGER NOT NULL, state INTEGER NOT NULL, info BLOB NOT NULL, PRIMARY KEY (build_id, task_id));
    CREATE TABLE agents (agent_id TEXT PRIMARY KEY, info BLOB NOT NULL);
    CREATE TABLE attempts (attempt_id TEXT PRIMARY KEY, build_id TEXT NOT NULL, task_id TEXT NOT NULL,
      agent_id TEXT NOT NULL, started_at_ms INTEGER NOT NULL, finished_at_ms INTEGER, outcome TEXT);
    CREATE TABLE uploads (attempt_id TEXT NOT NULL, filename TEXT NOT NULL, info BLOB NOT NULL,
      path TEXT NOT NULL, PRIMARY KEY (attempt_id, filename));
    INSERT INTO builds VALUES ('b000000000001', 1, x')sql" + absl::BytesToHexString(header.SerializeAsString()) +
      R"sql(');
    INSERT INTO tasks VALUES ('b000000000001', ')sql" + spec.id() + "', 0, 1, x'" +
      absl::BytesToHexString(task.SerializeAsString()) + "');";
  ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  sqlite3_close(db);

  Restart();
  v1::BuildInfo old = coordinator_->GetBuild("b000000000001").value();
  ASSERT_EQ(old.tasks_size(), 1);
  EXPECT_TRUE(old.tasks(0).spec().image().dockerfile_template().empty());
  EXPECT_TRUE(old.tasks(0).spec().image().dockerfile().empty());
  agent = Connect("a1", 2);
  Submit();  // new builds are stored the new way beside it
  coordinator_->Tick();
  ASSERT_EQ(agent->Assignments().size(), 2u);
  EXPECT_EQ(agent->Assignments()[0].build_id(), "b000000000001");
  // Rendered from its template: the same Dockerfile the new way carries.
  EXPECT_EQ(agent->Assignments()[0].spec().SerializeAsString(), spec.SerializeAsString());
  Restart();
  EXPECT_EQ(coordinator_->ListBuilds()->size(), 2u);
}

}  // namespace
}  // namespace cwb
