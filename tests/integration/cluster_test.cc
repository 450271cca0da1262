// The product end to end with real processes on loopback: cwb-coordinator, two `cwb-agent serve`
// building in real podman containers from git repositories made here, and the cwb CLI submitting,
// watching, following logs, fetching, cancelling, and surviving a coordinator restart.
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/base/digest.h"
#include "common/rpc/task_proto.h"
#include "cwb/v1/state.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/cluster_fixture.h"

namespace cwb {
namespace {

namespace fs = std::filesystem;
using namespace cwb::testing;
using std::chrono::seconds;

// A build command writing big-1.0-py3-none-any.whl: a zip archive holding `bytes` random bytes,
// stored (the release gate opens every wheel as one), and nothing else.
std::string BigWheelCommand(uint64_t bytes) {
  return absl::StrCat("|\n      head -c ", bytes, " /dev/urandom > \"${TMPDIR:-/tmp}/big.bin\"\n",
                      "      python3 -c \"import sys, zipfile; z = zipfile.ZipFile(sys.argv[1], 'w'); ",
                      "z.write(sys.argv[2], 'big/data.bin'); z.close()\" \"$CWB_OUT/big-1.0-py3-none-any.whl\" ",
                      "\"${TMPDIR:-/tmp}/big.bin\"\n");
}
// The size of BigWheelCommand(600000000)'s wheel: the data, its local header (30) and central
// directory entry (46), each with the 12-byte name, and the end record (22); no zip64 fields
// below 2 GiB.
constexpr uint64_t kBigWheelBytes = 600000000u + 30 + 12 + 46 + 12 + 22;

TEST_F(ClusterTest, MatrixOverTwoAgentsIsWatchedFollowedAndFetched) {
  StartCoordinator();
  StartAgents();
  const std::string build_id = Submit(WriteConfig("matrix.yaml", StampAndBuild(2)));
  ASSERT_FALSE(build_id.empty());
  ChildProcess watch(Cli({"watch", build_id}));
  const v1::BuildInfo submitted = Status(build_id);
  ASSERT_EQ(submitted.total(), 4u);
  ChildProcess logs(Cli({"logs", build_id, submitted.tasks(0).spec().id().substr(0, 6), "-f"}));

  // The watch shows progress while the build runs, then the end.
  EXPECT_FALSE(watch.WaitForLine(": running on agent-", seconds(120)).empty()) << watch.Output();
  ASSERT_EQ(watch.Wait(seconds(300)), 0) << watch.Output();
  EXPECT_THAT(watch.Output(), ::testing::HasSubstr("finished: 4 succeeded, 0 failed"));
  // logs -f printed the build's lines as they came and ended with the task.
  ASSERT_EQ(logs.Wait(seconds(60)), 0) << logs.Output();
  EXPECT_THAT(logs.Output(), ::testing::ContainsRegex("Z \\[build\\] cwb-e2e-building"));
  EXPECT_THAT(logs.Output(), ::testing::HasSubstr("task succeeded"));
  // --tail: the log's last lines only (the task's last line is its outcome).
  auto [tail_code, tail] = RunCli({"logs", build_id, submitted.tasks(0).spec().id(), "--tail", "2"});
  EXPECT_EQ(tail_code, 0) << tail;
  const std::vector<std::string> tail_lines = absl::StrSplit(tail, '\n', absl::SkipEmpty());
  ASSERT_EQ(tail_lines.size(), 2u) << tail;
  EXPECT_THAT(tail_lines[0], ::testing::HasSubstr("[cwb] wheel cwb_demo-"));
  EXPECT_THAT(tail_lines[1], ::testing::EndsWith("task succeeded: built 1 wheel(s)"));
  EXPECT_EQ(RunCli({"logs", build_id, submitted.tasks(0).spec().id(), "--tail", "0"}).first, 2);  // 1..100000

  const v1::BuildInfo build = Status(build_id);
  std::set<std::string> agents_used;
  for (const v1::TaskInfo& task : build.tasks()) {
    EXPECT_EQ(task.state(), v1::TASK_STATE_SUCCEEDED) << task.message();
    agents_used.insert(task.agent_id());
  }
  EXPECT_EQ(agents_used, (std::set<std::string>{"agent-1", "agent-2"}));

  // Fetch: the wheelhouse layout, digests verified; a second fetch skips what is there.
  const fs::path out = dir_ / "fetched";
  auto [fetch_code, fetch_output] = RunCli({"fetch", build_id, "-o", out.string()});
  ASSERT_EQ(fetch_code, 0) << fetch_output;
  int wheels = 0;
  for (const v1::TaskInfo& task : build.tasks()) {
    for (const v1::ArtifactInfo& artifact : task.artifacts()) {
      const fs::path file = out / artifact.wheelhouse_path();
      EXPECT_THAT(artifact.wheelhouse_path(), ::testing::StartsWith("wheelhouse/py311/cudacpu/"));
      EXPECT_THAT(artifact.filename(), ::testing::HasSubstr("+torch2."));
      EXPECT_EQ(Sha256File(file).value_or(""), artifact.sha256());
      ++wheels;
    }
  }
  EXPECT_EQ(wheels, 4);
  auto [again_code, again_output] = RunCli({"fetch", build_id, "-o", out.string()});
  EXPECT_EQ(again_code, 0);
  EXPECT_THAT(again_output, ::testing::HasSubstr("0 fetched, 4 already present, 0 failed"));

  auto [agents_code, agents_output] = RunCli({"agents"});
  EXPECT_EQ(agents_code, 0);
  EXPECT_THAT(agents_output, ::testing::ContainsRegex("agent-1 .* connected"));
  EXPECT_THAT(agents_output, ::testing::ContainsRegex("agent-2 .* connected"));
}

TEST_F(ClusterTest, CancelStopsTheRunningContainers) {
  StartCoordinator();
  StartAgents();
  const std::string build_id = Submit(WriteConfig("slow.yaml", StampAndBuild(600)));
  ChildProcess watch(Cli({"watch", build_id}));
  // Wait until both agents are running a build.
  for (int i = 0; i < 600 && watch.CountLines(": running on agent-") < 2; ++i) {
    watch.WaitForLine("$^", seconds(0));  // no-op read barrier
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(watch.CountLines(": running on agent-"), 2) << watch.Output() << "\nagent 1:\n" << agents_[0]->Output() << "\ncoordinator:\n" << coordinator_->Output();
  auto [code, output] = RunCli({"cancel", build_id});
  ASSERT_EQ(code, 0) << output;
  EXPECT_THAT(output, ::testing::HasSubstr("4 task(s) cancelled"));
  EXPECT_EQ(watch.Wait(seconds(60)), 1) << watch.Output();
  // Every container of this build is gone soon after.
  const v1::BuildInfo build = Status(build_id);
  std::string left;
  for (int i = 0; i < 100; ++i) {
    left.clear();
    for (const v1::TaskInfo& task : build.tasks()) {
      left += MustRun({"podman", "ps", "-a", "--filter", "label=cwb.task=" + task.spec().id(),
                       "--format", "{{.Names}}"});
    }
    if (left.empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  EXPECT_EQ(left, "");
  for (const v1::TaskInfo& task : build.tasks()) {
    EXPECT_EQ(task.state(), v1::TASK_STATE_CANCELLED);
  }
}

TEST_F(ClusterTest, RestartedCoordinatorStillFinishesTheBuild) {
  StartCoordinator();
  const std::string port = address_.substr(address_.rfind(':') + 1);
  StartAgents();
  const std::string build_id = Submit(WriteConfig("restart.yaml", StampAndBuild(4)));
  ChildProcess watch(Cli({"watch", build_id}));
  ASSERT_FALSE(watch.WaitForLine(": running on agent-", seconds(120)).empty()) << watch.Output();

  coordinator_->Signal(SIGKILL);
  coordinator_->Wait(seconds(10));
  StartCoordinator(absl::StrCat("127.0.0.1:", port));  // same address and data directory

  // The watch reattaches by itself and sees the build through.
  ASSERT_EQ(watch.Wait(seconds(300)), 0) << watch.Output();
  EXPECT_THAT(watch.Output(), ::testing::HasSubstr("finished: 4 succeeded, 0 failed"));
  const v1::BuildInfo build = Status(build_id);
  int reconciled = 0;
  for (const v1::TaskInfo& task : build.tasks()) {
    EXPECT_EQ(task.state(), v1::TASK_STATE_SUCCEEDED) << task.message();
    reconciled += task.attempts() == 1;
  }
  // Tasks running across the restart were reconciled, not run again.
  EXPECT_EQ(reconciled, 4) << watch.Output();
  auto [fetch_code, fetch_output] = RunCli({"fetch", build_id, "-o", (dir_ / "fetched").string()});
  EXPECT_EQ(fetch_code, 0) << fetch_output;
}

}  // namespace
}  // namespace cwb

namespace cwb {
namespace {

TEST_F(ClusterTest, AgentRemovesContainersLeftByItsEarlierRun) {
  // A container as a killed agent would leave it: labelled with the agent's id, still running.
  MustRun({"podman", "run", "-d", "--name", "cwb-orphan-test", "--label", "cwb.agent=agent-orphan",
           kBaseImage, "sleep", "600"});
  StartCoordinator();
  agents_.push_back(std::make_unique<ChildProcess>(std::vector<std::string>{
      CWB_AGENT_BINARY, "serve", "--coordinator", address_, "--agent-id", "agent-orphan",
      "--work-dir", (dir_ / "agent-orphan").string(), "--token-file", (dir_ / "agent-token").string()}));
  EXPECT_FALSE(agents_.back()->WaitForLine("removing container cwb-orphan-test", seconds(60)).empty())
      << agents_.back()->Output();
  ASSERT_FALSE(agents_.back()->WaitForLine("serving", seconds(60)).empty());
  EXPECT_EQ(MustRun({"podman", "ps", "-a", "--filter", "name=cwb-orphan-test", "--format", "{{.Names}}"}), "");
}

}  // namespace
}  // namespace cwb

#include <grpcpp/grpcpp.h>

#include "grpc/health/v1/health.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"

namespace cwb {
namespace {

TEST_F(ClusterTest, HostileLogsAreMaskedCutAndShownSafely) {
  StartCoordinator("127.0.0.1:0", {"--max-log-bytes", "200000"});
  StartAgents(1, {"E2E_SECRET=hf_e2e_do_not_leak"}, {"--secret-env", "E2E_SECRET"});
  const std::string config = WriteOneTaskConfig("hostile.yaml", "|\n"
      "      echo \"the token is $E2E_SECRET\"\n"
      "      printf '\\033[31mred\\033[0m \\033]0;retitled\\007\\n'\n"
      "      seq 1 20000 | sed 's/^/noise line /'\n"
      "      pip wheel . --no-deps --no-build-isolation -w \"$CWB_OUT\"\n", "    secret_env: [E2E_SECRET]\n");
  const std::string build_id = Submit(config);
  auto [code, output] = RunCli({"watch", build_id}, seconds(300));
  ASSERT_EQ(code, 0) << output;
  const std::string task = Status(build_id).tasks(0).spec().id();

  auto [logs_code, logs] = RunCli({"logs", build_id, task});
  EXPECT_EQ(logs_code, 0);
  EXPECT_THAT(logs, ::testing::HasSubstr("the token is ***"));
  EXPECT_EQ(logs.find("hf_e2e_do_not_leak"), std::string::npos);
  EXPECT_THAT(logs, ::testing::HasSubstr("\\x1b[31mred\\x1b[0m \\x1b]0;retitled\\x07"));
  EXPECT_EQ(logs.find('\x1b'), std::string::npos);
  // The attempt's first 100,000 bytes, where it was cut, and its end: the last noise lines and
  // what came after them.
  EXPECT_THAT(logs, ::testing::HasSubstr("[cwb] log cut here: the attempt wrote more than 100000 bytes;"));
  EXPECT_THAT(logs, ::testing::HasSubstr("noise line 20000\n"));
  EXPECT_THAT(logs, ::testing::HasSubstr("noise line 1\n"));
  EXPECT_LE(logs.size(), 200000u + 400u);
  auto [raw_code, raw] = RunCli({"logs", build_id, task, "--raw"});
  EXPECT_THAT(raw, ::testing::HasSubstr("\x1b[31mred"));  // stored as it came
  // The agent's own log file is masked too.
  std::stringstream agent_log;
  agent_log << std::ifstream(dir_ / "agent-1" / "logs" / task / (Status(build_id).tasks(0).attempt_id() + ".log")).rdbuf();
  EXPECT_THAT(agent_log.str(), ::testing::HasSubstr("the token is ***"));
  EXPECT_EQ(agent_log.str().find("hf_e2e_do_not_leak"), std::string::npos);
}

TEST_F(ClusterTest, KilledAgentsTaskRunsAgainElsewhere) {
  StartCoordinator();
  StartAgents();
  const std::string config = WriteOneTaskConfig("one.yaml", "|\n" + StampAndBuild(6));
  const std::string build_id = Submit(config);
  v1::BuildInfo running = WaitForBuild(build_id, [](const v1::BuildInfo& b) {
    return b.tasks(0).state() == v1::TASK_STATE_RUNNING;
  });
  ASSERT_EQ(running.tasks(0).state(), v1::TASK_STATE_RUNNING);
  const std::string victim = running.tasks(0).agent_id();
  agents_[AgentIndex(victim)]->Signal(SIGKILL);

  // Queued again because the lease (5 s) ran out, then built by the other agent. (How soon a
  // lease runs out is checked on a fake clock, in the coordinator's unit tests.)
  v1::BuildInfo moved = WaitForBuild(build_id, [&](const v1::BuildInfo& b) {
    return b.tasks(0).agent_id() != victim && !b.tasks(0).agent_id().empty();
  });
  EXPECT_NE(moved.tasks(0).agent_id(), victim);
  EXPECT_THAT(coordinator_->Output(), ::testing::HasSubstr(absl::StrCat(
                                          "agent ", victim, " lost (agent ", victim, " was silent for more than 5000 ms)")));
  v1::BuildInfo done = WaitForBuild(build_id, [](const v1::BuildInfo& b) { return b.finished(); });
  ASSERT_EQ(done.succeeded(), 1u) << done.tasks(0).message();
  EXPECT_EQ(done.tasks(0).attempts(), 2u);
  EXPECT_EQ(done.tasks(0).artifacts_size(), 1);
}

TEST_F(ClusterTest, RetryLimitEndsInFailureWithTheReason) {
  StartCoordinator("127.0.0.1:0", {"--retry-limit", "2"});
  StartAgents(1);
  const std::string config = WriteOneTaskConfig("doomed.yaml", "sleep 600\n");
  const std::string build_id = Submit(config);
  for (int attempt = 1; attempt <= 2; ++attempt) {
    v1::BuildInfo running = WaitForBuild(build_id, [&](const v1::BuildInfo& b) {
      return b.tasks(0).state() == v1::TASK_STATE_RUNNING && b.tasks(0).attempts() == static_cast<uint32_t>(attempt);
    });
    ASSERT_EQ(running.tasks(0).state(), v1::TASK_STATE_RUNNING) << running.DebugString();
    agents_.back()->Signal(SIGKILL);  // the agent dies with the build
    agents_.back()->Wait(seconds(10));
    agents_.clear();
    StartAgents(1);  // and comes back (same id) without it
  }
  v1::BuildInfo done = WaitForBuild(build_id, [](const v1::BuildInfo& b) { return b.finished(); });
  ASSERT_EQ(done.failed(), 1u);
  EXPECT_EQ(done.tasks(0).attempts(), 2u);
  EXPECT_THAT(done.tasks(0).message(), ::testing::HasSubstr("gave up after 2 attempts"));
}

TEST_F(ClusterTest, CutOffAgentsLateResultIsRefused) {
  StartCoordinator();
  StartAgents();
  const std::string config = WriteOneTaskConfig("cut.yaml", "|\n" + StampAndBuild(8));
  const std::string build_id = Submit(config);
  v1::BuildInfo running = WaitForBuild(build_id, [](const v1::BuildInfo& b) {
    return b.tasks(0).state() == v1::TASK_STATE_RUNNING;
  });
  const std::string cut_off = running.tasks(0).agent_id();
  const std::string first_attempt = running.tasks(0).attempt_id();
  agents_[AgentIndex(cut_off)]->Signal(SIGSTOP);  // silent: no heartbeats, but its build goes on
  v1::BuildInfo moved = WaitForBuild(build_id, [&](const v1::BuildInfo& b) {
    return b.tasks(0).attempt_id() != first_attempt && b.tasks(0).state() == v1::TASK_STATE_RUNNING;
  });
  ASSERT_NE(moved.tasks(0).agent_id(), cut_off);
  agents_[AgentIndex(cut_off)]->Signal(SIGCONT);  // back, with a result nobody wants any more
  v1::BuildInfo done = WaitForBuild(build_id, [](const v1::BuildInfo& b) { return b.finished(); });
  ASSERT_EQ(done.succeeded(), 1u) << done.tasks(0).message();
  EXPECT_EQ(done.tasks(0).attempt_id(), moved.tasks(0).attempt_id());
  EXPECT_NE(done.tasks(0).agent_id(), cut_off);
  ASSERT_EQ(done.tasks(0).artifacts_size(), 1);  // one wheel, one digest
  // Nothing of the stale attempt was kept: no upload of it lies in the store.
  EXPECT_FALSE(fs::exists(dir_ / "coordinator" / "uploads" / first_attempt / done.tasks(0).artifacts(0).filename()));
  const fs::path wheel = dir_ / "coordinator" / "builds" / build_id / done.tasks(0).artifacts(0).wheelhouse_path();
  EXPECT_EQ(Sha256File(wheel).value_or(""), done.tasks(0).artifacts(0).sha256());
}

TEST_F(ClusterTest, GigabyteOfOutputKeepsMemoryBoundedAndTheLogCapped) {
  StartCoordinator("127.0.0.1:0", {"--max-log-bytes", "8000000"});
  StartAgents(1);
  const std::string config = WriteOneTaskConfig(
      "loud.yaml",
      "|\n"
      "      yes \"$(printf '%099d' 0)\" | head -c 1073741824\n"
      "      pip wheel . --no-deps --no-build-isolation -w \"$CWB_OUT\"\n");
  const std::string build_id = Submit(config);
  auto [code, output] = RunCli({"watch", build_id}, seconds(600));
  ASSERT_EQ(code, 0) << output;
  // 1 GiB went through the agent and (as far as its cap) the coordinator; neither held it.
  const uint64_t coordinator_peak = coordinator_->PeakResidentBytes();
  const uint64_t agent_peak = agents_[0]->PeakResidentBytes();
  EXPECT_GT(coordinator_peak, 0u);
  EXPECT_LT(coordinator_peak, 200ull << 20) << coordinator_peak;
  EXPECT_LT(agent_peak, 200ull << 20) << agent_peak;
  std::cout << "peak RSS after 1 GiB of build output: coordinator " << (coordinator_peak >> 20)
            << " MiB, agent " << (agent_peak >> 20) << " MiB\n";
  const std::string task = Status(build_id).tasks(0).spec().id();
  auto [logs_code, logs] = RunCli({"logs", build_id, task});
  EXPECT_LE(logs.size(), 8000000u + 400u);
  EXPECT_THAT(logs, ::testing::HasSubstr("[cwb] log cut here: the attempt wrote more than 4000000 bytes;"));
}

TEST_F(ClusterTest, CoordinatorKilledMidUploadStillEndsWithOneVerifiedWheel) {
  StartCoordinator();
  const std::string port = address_.substr(address_.rfind(':') + 1);
  StartAgents(1);
  const std::string config = WriteOneTaskConfig(
      "big.yaml", BigWheelCommand(600000000));
  const std::string build_id = Submit(config);
  ASSERT_TRUE(WaitForUploadInFlight()) << "never saw the upload in flight";
  coordinator_->Signal(SIGKILL);
  coordinator_->Wait(seconds(10));
  StartCoordinator(absl::StrCat("127.0.0.1:", port));

  v1::BuildInfo done = WaitForBuild(build_id, [](const v1::BuildInfo& b) { return b.finished(); },
                                    seconds(300));
  ASSERT_EQ(done.succeeded(), 1u) << done.tasks(0).message();
  EXPECT_EQ(done.tasks(0).attempts(), 1u);  // reconciled; the upload was simply sent again
  ASSERT_EQ(done.tasks(0).artifacts_size(), 1);
  const v1::ArtifactInfo& artifact = done.tasks(0).artifacts(0);
  EXPECT_EQ(artifact.size_bytes(), kBigWheelBytes);
  EXPECT_EQ(Sha256File(dir_ / "coordinator" / "builds" / build_id / artifact.wheelhouse_path()).value_or(""),
            artifact.sha256());
  ExpectNoTemporaryFiles();
}

TEST_F(ClusterTest, AgentKilledMidUploadNeverShowsThePartialWheel) {
  StartCoordinator();
  StartAgents();
  const std::string config = WriteOneTaskConfig(
      "big.yaml", BigWheelCommand(600000000));
  const std::string build_id = Submit(config);
  ASSERT_TRUE(WaitForUploadInFlight()) << "never saw the upload in flight";
  const v1::BuildInfo uploading = Status(build_id);
  const std::string victim = uploading.tasks(0).agent_id();
  agents_[AgentIndex(victim)]->Signal(SIGKILL);

  v1::BuildInfo done = WaitForBuild(build_id, [](const v1::BuildInfo& b) { return b.finished(); },
                                    seconds(300));
  ASSERT_EQ(done.succeeded(), 1u) << done.tasks(0).message();
  EXPECT_NE(done.tasks(0).agent_id(), victim);
  EXPECT_EQ(done.tasks(0).attempts(), 2u);
  EXPECT_FALSE(fs::exists(dir_ / "coordinator" / "uploads" / uploading.tasks(0).attempt_id()));
  ASSERT_EQ(done.tasks(0).artifacts_size(), 1);
  const v1::ArtifactInfo& artifact = done.tasks(0).artifacts(0);
  EXPECT_EQ(Sha256File(dir_ / "coordinator" / "builds" / build_id / artifact.wheelhouse_path()).value_or(""),
            artifact.sha256());
  ExpectNoTemporaryFiles();
}

TEST_F(ClusterTest, FullCoordinatorStoreFailsTheTaskWithThatReason) {
  SmallDisk disk(dir_ / "coordinator", "16m");
  if (!disk.mounted()) GTEST_SKIP() << "cannot mount a small tmpfs here";
  StartCoordinator();
  StartAgents(1);
  const std::string config = WriteOneTaskConfig(
      "big.yaml", BigWheelCommand(40000000));
  const std::string build_id = Submit(config);
  v1::BuildInfo done = WaitForBuild(build_id, [](const v1::BuildInfo& b) { return b.finished(); });
  ASSERT_EQ(done.failed(), 1u);
  EXPECT_THAT(done.tasks(0).message(), ::testing::HasSubstr("No space left on device"));
  ExpectNoTemporaryFiles();
  // And the coordinator keeps serving.
  auto [code, output] = RunCli({"status"});
  EXPECT_EQ(code, 0) << output;
  // Stop the processes before the disk is unmounted.
  for (auto& agent : agents_) agent->Signal(SIGTERM);
  for (auto& agent : agents_) agent->Wait(seconds(60));
  agents_.clear();
  coordinator_.reset();
}

TEST_F(ClusterTest, AgentWithoutTheTokenIsRefused) {
  StartCoordinator();
  ChildProcess intruder({CWB_AGENT_BINARY, "serve", "--coordinator", address_, "--agent-id", "intruder",
                         "--work-dir", (dir_ / "intruder").string()});
  EXPECT_FALSE(intruder.WaitForLine("refused this agent", seconds(30)).empty()) << intruder.Output();
  EXPECT_EQ(intruder.Wait(seconds(30)), 2) << intruder.Output();  // it stops: no retry can fix a token
  EXPECT_THAT(intruder.Output(), ::testing::HasSubstr("check --token-file or CWB_AGENT_TOKEN"));
  // ... and the coordinator says whom it refused.
  EXPECT_FALSE(coordinator_->WaitForLine("refused a call to /cwb.v1.AgentService/Session", seconds(30)).empty())
      << coordinator_->Output();
  auto [code, output] = RunCli({"agents"});
  EXPECT_EQ(code, 0);
  EXPECT_THAT(output, ::testing::Not(::testing::HasSubstr("intruder")));
}

TEST_F(ClusterTest, CoordinatorServesHealthAndReflection) {
  StartCoordinator();
  auto channel = grpc::CreateChannel(address_, grpc::InsecureChannelCredentials());

  grpc::ClientContext health_context;
  health_context.set_deadline(std::chrono::system_clock::now() + seconds(10));
  grpc::health::v1::HealthCheckResponse health;
  grpc::Status status = grpc::health::v1::Health::NewStub(channel)->Check(
      &health_context, grpc::health::v1::HealthCheckRequest(), &health);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(health.status(), grpc::health::v1::HealthCheckResponse::SERVING);

  grpc::ClientContext reflection_context;
  reflection_context.set_deadline(std::chrono::system_clock::now() + seconds(10));
  auto stream = grpc::reflection::v1alpha::ServerReflection::NewStub(channel)->ServerReflectionInfo(
      &reflection_context);
  grpc::reflection::v1alpha::ServerReflectionRequest request;
  request.set_list_services("");
  ASSERT_TRUE(stream->Write(request));
  stream->WritesDone();
  grpc::reflection::v1alpha::ServerReflectionResponse response;
  ASSERT_TRUE(stream->Read(&response));
  std::set<std::string> services;
  for (const auto& service : response.list_services_response().service()) services.insert(service.name());
  EXPECT_TRUE(services.count("cwb.v1.BuildService")) << response.DebugString();
  EXPECT_TRUE(services.count("cwb.v1.AgentService")) << response.DebugString();
  EXPECT_TRUE(services.count("grpc.health.v1.Health")) << response.DebugString();
}

}  // namespace
}  // namespace cwb
