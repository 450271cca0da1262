#include "agent/build_pipeline.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/unit/agent/build_pipeline_fixture.h"

namespace cwb::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Pair;

TEST_F(BuildPipelineTest, BuildsImageChecksOutRunsAndCollectsTheWheel) {
  TaskResult result = RunTask(Spec());
  ASSERT_EQ(result.outcome, TaskOutcome::kSucceeded) << result.message;
  EXPECT_TRUE(result.image_built);
  EXPECT_EQ(result.commit, kCommit);
  ASSERT_EQ(result.wheels.size(), 1u);
  EXPECT_EQ(result.wheels[0].filename, "demo-1.0-cp311-cp311-linux_x86_64.whl");
  EXPECT_EQ(result.wheels[0].sha256, Sha256Hex(kEmptyWheel));
  EXPECT_EQ(result.wheels[0].size, kEmptyWheel.size());
  EXPECT_EQ(result.wheels[0].path,
            paths::Artifacts(work_, "00112233aabbccdd", "a1") / result.wheels[0].filename);
  EXPECT_TRUE(fs::exists(result.wheels[0].path));
  // The workspace is gone; the log stays.
  EXPECT_FALSE(fs::exists(paths::Workspace(work_, "00112233aabbccdd", "a1")));
  EXPECT_TRUE(fs::exists(result.log_path));

  ASSERT_EQ(runtime_.builds().size(), 1u);
  EXPECT_THAT(runtime_.builds()[0].tag, ::testing::StartsWith("wheel-builder:py3.11-cuda12.1-"));
  ASSERT_EQ(runtime_.runs().size(), 1u);
  const ContainerRunRequest run = runtime_.runs()[0];
  EXPECT_EQ(run.name, "cwb-00112233aabbccdd-a1");
  EXPECT_EQ(run.gpus.kind, GpuRequest::Kind::kNone);  // a CUDA build holds no GPU (no smoke test to run)
  EXPECT_EQ(runtime_.last_stop_grace(), std::chrono::seconds(12));
  // git: clone with "--" before the URL, then resolve, detach, submodules.
  std::vector<std::string> git = git_.Commands();
  ASSERT_GE(git.size(), 4u);
  EXPECT_THAT(git[0], ::testing::MatchesRegex("git clone --no-checkout -- https://example.com/demo.git .*/src"));
  EXPECT_THAT(git[1], HasSubstr("rev-parse --verify --quiet --end-of-options v1.0^{commit}"));
  EXPECT_THAT(git[2], HasSubstr(std::string("checkout --quiet --detach ") + kCommit));
  EXPECT_THAT(git.back(), HasSubstr("submodule update --init --recursive"));
}

TEST_F(BuildPipelineTest, ContainerGetsTheTaskEnvironmentAndCaches) {
  TaskResult result = RunTask(Spec());
  ASSERT_EQ(result.outcome, TaskOutcome::kSucceeded) << result.message;
  const ContainerRunRequest run = runtime_.runs()[0];
  EXPECT_THAT(run.env, Contains(Pair("MAX_JOBS", "8")));
  EXPECT_THAT(run.env, Contains(Pair("TORCH_CUDA_ARCH_LIST", "9.0")));
  EXPECT_THAT(run.env, Contains(Pair("CWB_PYTHON_VERSION", "3.11")));
  EXPECT_THAT(run.env, Contains(Pair("CWB_CXX11_ABI", "TRUE")));
  EXPECT_THAT(run.env, Contains(Pair("CXX11_ABI", "TRUE")));
  EXPECT_THAT(run.env, Contains(Pair("CWB_OUT", "/cwb/out")));
  std::vector<std::string> mounts;
  for (const Mount& m : run.mounts) {
    mounts.push_back(m.host_path.string() + ":" + m.container_path + (m.read_only ? ":ro" : ""));
  }
  EXPECT_THAT(mounts, Contains((work_ / "cache/local/pip").string() + ":/cwb/cache/pip"));
  EXPECT_THAT(mounts, Contains((work_ / "cache/local/ccache").string() + ":/cwb/cache/ccache"));
  EXPECT_THAT(mounts, Contains(::testing::EndsWith("/ctl:/cwb/ctl:ro")));
}

TEST_F(BuildPipelineTest, TaskEnvOverridesTheMaxJobsDefault) {
  v1::TaskSpec spec = Spec();
  v1::EnvVar* env = spec.add_env();
  env->set_name("MAX_JOBS");
  env->set_value("2");
  BuildPipeline pipeline(runtime_, git_, clock_, options_);
  auto env_list = pipeline.ContainerEnv(spec);
  EXPECT_THAT(env_list, Contains(Pair("MAX_JOBS", "2")));
  EXPECT_THAT(env_list, ::testing::Not(Contains(Pair("MAX_JOBS", "8"))));
}

TEST_F(BuildPipelineTest, SecretsGoToTheContainerOnlyWhenTheAgentHasThem) {
  v1::TaskSpec spec = Spec();
  spec.add_secret_env("HF_TOKEN");
  TaskResult missing = RunTask(spec);
  EXPECT_EQ(missing.outcome, TaskOutcome::kFailed);
  EXPECT_THAT(missing.message, HasSubstr("this agent has no value for secret_env HF_TOKEN"));
  options_.secrets = {{"HF_TOKEN", "hf_value"}, {"OTHER", "not-asked-for"}};
  runtime_.on_run = [](const ContainerRunRequest& request, const ContainerRuntime::LineCallback& on_line) {
    on_line("leaking hf_value here");
    for (const Mount& mount : request.mounts) {
      if (mount.container_path == "/cwb/out") std::ofstream(mount.host_path / "demo-1.0-py3-none-any.whl") << kEmptyWheel;
    }
    return 0;
  };
  git_.Script({{"git", "-C"}, {kCommit}, 0, false, 1});
  TaskResult result = RunTask(spec);
  ASSERT_EQ(result.outcome, TaskOutcome::kSucceeded) << result.message;
  EXPECT_THAT(runtime_.runs().back().secret_env,
              ::testing::ElementsAre(std::pair<std::string, std::string>("HF_TOKEN", "hf_value")));
  EXPECT_THAT(lines_, Contains("[build] leaking *** here"));
}

TEST_F(BuildPipelineTest, ArchListDefaultsToTheAttemptsGpusUnlessTheConfigSetsIt) {
  v1::TaskSpec unset = Spec();
  unset.clear_env();
  BuildPipeline pipeline(runtime_, git_, clock_, options_);
  EXPECT_THAT(pipeline.ContainerEnv(unset, "8.0;9.0"), Contains(Pair("TORCH_CUDA_ARCH_LIST", "8.0;9.0")));
  // The config's value (Spec() sets 9.0) wins over the agent's GPUs.
  auto configured = pipeline.ContainerEnv(Spec(), "8.0");
  EXPECT_THAT(configured, Contains(Pair("TORCH_CUDA_ARCH_LIST", "9.0")));
  EXPECT_THAT(configured, ::testing::Not(Contains(Pair("TORCH_CUDA_ARCH_LIST", "8.0"))));
  // A build without GPUs gets cwb's default for its CUDA, never an empty list.
  EXPECT_THAT(pipeline.ContainerEnv(unset, ""), Contains(Pair("TORCH_CUDA_ARCH_LIST", DefaultCudaArchList("12.1"))));
  EXPECT_EQ(DefaultCudaArchList("11.8"), "5.0;6.0;7.0;7.5;8.0;8.6;8.9;9.0+PTX");
  EXPECT_EQ(DefaultCudaArchList("12.8"), "7.0;7.5;8.0;8.6;8.9;9.0;10.0;12.0+PTX");
  EXPECT_EQ(DefaultCudaArchList("13.0"), "7.5;8.0;8.6;8.9;9.0;10.0;11.0;12.0+PTX");
  EXPECT_EQ(DefaultCudaArchList("cpu"), "");
  // CPU variants get no arch list.
  v1::TaskSpec cpu = Spec("cpu");
  cpu.clear_env();
  for (const auto& [name, value] : pipeline.ContainerEnv(cpu, "9.0")) EXPECT_NE(name, "TORCH_CUDA_ARCH_LIST");
}

TEST_F(BuildPipelineTest, AttemptLogNamesItsGpus) {
  BuildPipeline pipeline(runtime_, git_, clock_, options_);
  v1::TaskSpec spec = Spec();
  spec.set_build_needs_gpu(true);
  TaskResult result = pipeline.Run({&spec, "a1", GpuRequest::Devices({"1"}),
                                    [this](const LogLine& line) {
                                      std::lock_guard lock(lines_mutex_);
                                      lines_.push_back("[" + line.source + "] " + line.text);
                                    },
                                    nullptr, "9.0", "1 (NVIDIA H100 80GB HBM3, sm 9.0, GPU-1)"});
  ASSERT_EQ(result.outcome, TaskOutcome::kSucceeded) << result.message;
  EXPECT_THAT(lines_, Contains("[cwb] GPUs of this attempt: 1 (NVIDIA H100 80GB HBM3, sm 9.0, GPU-1)"));
  EXPECT_THAT(runtime_.runs()[0].gpus.devices, ::testing::ElementsAre("1"));
}

TEST_F(BuildPipelineTest, RuntimeWithoutImagesSkipsTheImageAndInstallsPipPackagesWithTheDependencies) {
  runtime_.images = false;
  v1::TaskSpec spec = Spec();
  spec.mutable_image()->add_pip_packages("wheel");
  spec.mutable_image()->add_apt_packages("ninja-build");
  std::string requirements;
  runtime_.on_run = [&](const ContainerRunRequest& request, const ContainerRuntime::LineCallback&) {
    for (const Mount& mount : request.mounts) {
      if (mount.container_path == "/cwb/ctl") {
        std::ifstream in(mount.host_path / "requirements.txt");
        requirements.assign(std::istreambuf_iterator<char>(in), {});
      }
      if (mount.container_path == "/cwb/out") std::ofstream(mount.host_path / "demo-1.0-py3-none-any.whl") << kEmptyWheel;
    }
    return 0;
  };
  TaskResult result = RunTask(spec);
  ASSERT_EQ(result.outcome, TaskOutcome::kSucceeded) << result.message;
  EXPECT_TRUE(runtime_.builds().empty());
  EXPECT_FALSE(result.image_built);
  EXPECT_EQ(requirements, "wheel\nninja\n");
  EXPECT_THAT(lines_, Contains(HasSubstr("apt_packages are not installed on the host; it must already have: ninja-build")));
  EXPECT_THAT(runtime_.runs()[0].env, Contains(Pair("CWB_SRC", "/cwb/src")));
  EXPECT_THAT(runtime_.runs()[0].env, Contains(Pair("CWB_CTL", "/cwb/ctl")));
}

TEST_F(BuildPipelineTest, CpuTasksGetNoGpus) {
  TaskResult result = RunTask(Spec("cpu"));
  ASSERT_EQ(result.outcome, TaskOutcome::kSucceeded) << result.message;
  EXPECT_EQ(runtime_.runs()[0].gpus.kind, GpuRequest::Kind::kNone);
}

TEST_F(BuildPipelineTest, ExistingImageIsReusedWithoutABuild) {
  TaskResult first = RunTask(Spec());
  ASSERT_EQ(first.outcome, TaskOutcome::kSucceeded);
  git_.Script({{"git", "-C"}, {kCommit}, 0, false, 1});
  TaskResult second = RunTask(Spec());
  ASSERT_EQ(second.outcome, TaskOutcome::kSucceeded) << second.message;
  EXPECT_FALSE(second.image_built);
  EXPECT_EQ(runtime_.builds().size(), 1u);
  EXPECT_THAT(lines_, Contains(HasSubstr("exists; reusing it")));
}

TEST_F(BuildPipelineTest, MetricsCountImageHitsBuildsAndAttemptsByOutcome) {
  MetricsRegistry metrics;
  options_.metrics = &metrics;
  ASSERT_EQ(RunTask(Spec()).outcome, TaskOutcome::kSucceeded);
  git_.Script({{"git", "-C"}, {kCommit}, 0, false, 1});
  ASSERT_EQ(RunTask(Spec()).outcome, TaskOutcome::kSucceeded);
  runtime_.on_run = [](const ContainerRunRequest&, const ContainerRuntime::LineCallback&) { return 2; };
  git_.Script({{"git", "-C"}, {kCommit}, 0, false, 1});
  ASSERT_EQ(RunTask(Spec()).outcome, TaskOutcome::kFailed);
  EXPECT_EQ(metrics.CounterOf("cwb_agent_image_builds_total", "").value(), 1);
  EXPECT_EQ(metrics.CounterOf("cwb_agent_image_cache_hits_total", "").value(), 2);
  EXPECT_EQ(metrics.CounterOf("cwb_agent_attempts_total", "", {{"outcome", "succeeded"}}).value(), 2);
  EXPECT_EQ(metrics.CounterOf("cwb_agent_attempts_total", "", {{"outcome", "failed"}}).value(), 1);
  const std::string text = metrics.Render();
  EXPECT_THAT(text, HasSubstr("cwb_agent_attempt_duration_seconds_count{outcome=\"succeeded\"} 2"));
}

TEST_F(BuildPipelineTest, AttemptsNeedingTheSameImageBuildItOnce) {
  git_.Script({{"git", "-C"}, {kCommit}, 0, false, -1});  // every later git -C resolves too
  Cancellation building, second_waits, release;  // used as one-shot latches
  runtime_.on_build = [&] {
    building.Cancel("the first attempt builds the image");
    release.Wait();
  };
  BuildPipeline pipeline(runtime_, git_, clock_, options_);
  const v1::TaskSpec spec = Spec();
  TaskResult first, second;
  std::thread a([&] { first = pipeline.Run({&spec, "a1", GpuRequest::All(), {}, nullptr}); });
  building.Wait();
  std::thread b([&] {
    second = pipeline.Run({&spec, "a2", GpuRequest::All(), [&](const LogLine& line) {
                             if (line.text.find("waiting for another attempt's build of image") != std::string::npos) {
                               second_waits.Cancel("waiting");
                             }
                           }, nullptr});
  });
  second_waits.Wait();  // the second attempt waits instead of building the image too
  release.Cancel("built");
  a.join();
  b.join();
  EXPECT_EQ(first.outcome, TaskOutcome::kSucceeded) << first.message;
  EXPECT_EQ(second.outcome, TaskOutcome::kSucceeded) << second.message;
  EXPECT_EQ(runtime_.builds().size(), 1u);
  EXPECT_TRUE(first.image_built);
  EXPECT_FALSE(second.image_built);
}

TEST_F(BuildPipelineTest, FailingBuildReportsExitAndTailAndCleansUp) {
  runtime_.on_run = [](const ContainerRunRequest&, const ContainerRuntime::LineCallback& on_line) {
    for (int i = 0; i < 100; ++i) on_line("line " + std::to_string(i));
    on_line("error: nvcc died");
    return 2;
  };
  TaskResult result = RunTask(Spec());
  EXPECT_EQ(result.outcome, TaskOutcome::kFailed);
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(result.message, "exit 2: error: nvcc died");  // the step, then its cause
  ASSERT_EQ(result.log_tail.size(), 50u);
  EXPECT_THAT(result.log_tail, Contains("error: nvcc died"));
  EXPECT_FALSE(fs::exists(paths::Workspace(work_, "00112233aabbccdd", "a1")));
  EXPECT_FALSE(fs::exists(paths::Artifacts(work_, "00112233aabbccdd", "a1")));
}

TEST_F(BuildPipelineTest, FailedWorkspaceIsKeptWhenAsked) {
  options_.keep_failed_workspace = true;
  runtime_.on_run = [](const ContainerRunRequest&, const ContainerRuntime::LineCallback&) { return 1; };
  TaskResult result = RunTask(Spec());
  EXPECT_EQ(result.outcome, TaskOutcome::kFailed);
  EXPECT_TRUE(fs::exists(paths::Workspace(work_, "00112233aabbccdd", "a1") / "ctl" / "build.sh"));
}

TEST_F(BuildPipelineTest, NoWheelIsAFailure) {
  runtime_.on_run = [](const ContainerRunRequest&, const ContainerRuntime::LineCallback&) { return 0; };
  TaskResult result = RunTask(Spec());
  EXPECT_EQ(result.outcome, TaskOutcome::kFailed);
  EXPECT_EQ(result.message, "the build succeeded but left no wheel in /cwb/out");
}

TEST_F(BuildPipelineTest, LinkedWheelsAreNotFollowed) {
  runtime_.on_run = [](const ContainerRunRequest& request, const ContainerRuntime::LineCallback&) {
    for (const Mount& mount : request.mounts) {
      if (mount.container_path == "/cwb/out") {
        fs::create_symlink("/etc/passwd", mount.host_path / "evil-1.0-py3-none-any.whl");
      }
    }
    return 0;
  };
  TaskResult result = RunTask(Spec());
  EXPECT_EQ(result.outcome, TaskOutcome::kFailed);
  EXPECT_THAT(lines_, Contains(HasSubstr("skipping evil-1.0-py3-none-any.whl: not a regular file")));
}

TEST_F(BuildPipelineTest, UnknownRefFailsBeforeAnyContainer) {
  FakeProcessRunner git;  // rev-parse prints nothing: the ref does not exist
  BuildPipeline pipeline(runtime_, git, clock_, options_);
  v1::TaskSpec spec = Spec();
  TaskResult result = pipeline.Run({&spec, "a1", GpuRequest::None(), nullptr, nullptr});
  EXPECT_EQ(result.outcome, TaskOutcome::kFailed);
  EXPECT_EQ(result.message, "repo_ref 'v1.0' is not a branch, tag or commit of https://example.com/demo.git");
  EXPECT_TRUE(runtime_.runs().empty());
}

TEST_F(BuildPipelineTest, ImageBuildFailureIsReported) {
  runtime_.build_status = absl::UnknownError("podman build of x failed (exit 1)");
  TaskResult result = RunTask(Spec());
  EXPECT_EQ(result.outcome, TaskOutcome::kFailed);
  EXPECT_EQ(result.message, "podman build of x failed (exit 1)");  // the fake's engine says nothing more
}

TEST_F(BuildPipelineTest, AnImageOfAnotherTorchFailsBeforeTheBuildNamingBoth) {
  runtime_.image_facts = "python=3.11.2\nexecutable=/usr/bin/python3.11\ntorch=1.13.1\ntorch_cuda=\n";
  TaskResult result = RunTask(Spec());  // python 3.11, CUDA 12.1, torch 2.4.0
  EXPECT_EQ(result.outcome, TaskOutcome::kFailed);
  EXPECT_EQ(result.message, "image " + Spec().image().tag() +
                                ": the image gives torch 1.13.1 but the cell asks for PyTorch 2.4.0");
  EXPECT_TRUE(runtime_.runs().empty());  // nothing ran
}

TEST_F(BuildPipelineTest, AnImagesFactsAreReadOnceEvenWhenItRecordsNone) {
  git_.Script({{"git", "-C"}, {kCommit}, 0, false, -1});  // every git -C resolves
  BuildPipeline pipeline(runtime_, git_, clock_, options_);
  const v1::TaskSpec spec = Spec();
  for (const char* attempt : {"a1", "a2", "a3"}) {
    EXPECT_EQ(pipeline.Run({&spec, attempt, GpuRequest::All(), {}, nullptr}).outcome, TaskOutcome::kSucceeded);
  }
  EXPECT_EQ(runtime_.facts_reads.load(), 1);  // "" (a custom template's image) is remembered too
}

TEST_F(BuildPipelineTest, AnImageWithoutTorchBuildsAndTheLogSaysSo) {
  runtime_.image_facts = "python=3.11.2\nexecutable=/usr/bin/python3.11\n";
  TaskResult result = RunTask(Spec());
  EXPECT_EQ(result.outcome, TaskOutcome::kSucceeded) << result.message;
  EXPECT_THAT(lines_, Contains(::testing::HasSubstr("gives Python 3.11.2 (/usr/bin/python3.11), no torch: the build "
                                                    "brings what it needs")));
}

TEST_F(BuildPipelineTest, CachesAreSharedWithinATrustDomainOnly) {
  auto cache_mounts = [&](const std::string& domain) {
    const size_t before = runtime_.runs().size();
    git_.Script({{"git", "-C"}, {kCommit}, 0, false, 1});
    EXPECT_EQ(RunTask(Spec("cpu"), nullptr, GpuRequest::None(), domain).outcome, TaskOutcome::kSucceeded);
    const std::vector<ContainerRunRequest> runs = runtime_.runs();
    std::vector<std::string> mounts;
    if (runs.size() <= before) return mounts;
    for (const Mount& mount : runs[before].mounts) {
      if (mount.container_path.starts_with("/cwb/cache")) mounts.push_back(mount.host_path.string());
    }
    return mounts;
  };
  EXPECT_THAT(cache_mounts("0123456789abcdef"),
              ElementsAre((work_ / "cache/0123456789abcdef/pip").string(), (work_ / "cache/0123456789abcdef/ccache").string()));
  EXPECT_THAT(cache_mounts("fedcba9876543210"), ElementsAre((work_ / "cache/fedcba9876543210/pip").string(),
                                                            (work_ / "cache/fedcba9876543210/ccache").string()));
  // A domain that is not the coordinator's digest never names a path of its own.
  EXPECT_THAT(cache_mounts("../../etc"),
              ElementsAre((work_ / "cache/local/pip").string(), (work_ / "cache/local/ccache").string()));
}

TEST_F(BuildPipelineTest, EachBuildRunHasAWatchdogThatTheAttemptsEndDismisses) {
  std::vector<std::vector<std::string>> spawned;
  options_.watchdog_command = {"/opt/cwb/cwb-agent"};
  options_.spawn = [&](const std::vector<std::string>& argv) {
    spawned.push_back(argv);
    EXPECT_TRUE(fs::exists(paths::Alive(work_, "00112233aabbccdd", "a1")));  // alive while it runs
    return absl::OkStatus();
  };
  ASSERT_EQ(RunTask(Spec()).outcome, TaskOutcome::kSucceeded);
  ASSERT_EQ(spawned.size(), 1u);
  const std::string alive = paths::Alive(work_, "00112233aabbccdd", "a1").string();
  EXPECT_THAT(spawned[0], ElementsAre("/opt/cwb/cwb-agent", "watchdog", "--alive", alive, "--stale", "20", "--poll", "2",
                                      "--log", (work_ / "logs/watchdog.log").string(),
                                      "--remove", paths::Workspace(work_, "00112233aabbccdd", "a1").string(),
                                      "--remove", paths::Artifacts(work_, "00112233aabbccdd", "a1").string(), "--",
                                      "fake-rm", "cwb-00112233aabbccdd-a1"));
  EXPECT_FALSE(fs::exists(alive));  // the attempt ended: its watchdog exits at its next look
}

TEST_F(BuildPipelineTest, ADockerfileThatIsNotItsImagesIsRefused) {
  v1::TaskSpec spec = Spec();
  spec.mutable_image()->set_content_hash(std::string(64, 'f'));
  TaskResult result = RunTask(spec);
  EXPECT_EQ(result.outcome, TaskOutcome::kFailed);
  EXPECT_THAT(result.message, HasSubstr("image.dockerfile: its sha256 is "));
  EXPECT_THAT(result.message, HasSubstr("not the image's content hash ffffffffffff"));
  EXPECT_TRUE(runtime_.builds().empty());
}

TEST_F(BuildPipelineTest, ATaskWithoutItsDockerfileSaysToPlanItAgain) {
  v1::TaskSpec spec = Spec();
  spec.mutable_image()->clear_dockerfile();
  TaskResult result = RunTask(spec);
  EXPECT_EQ(result.outcome, TaskOutcome::kFailed);
  EXPECT_THAT(result.message, HasSubstr("planned by an older cwb: plan it again"));
}

TEST_F(BuildPipelineTest, CancellationStopsTheRunningContainer) {
  runtime_.block_runs_until_cancelled = true;
  Cancellation cancel;
  std::thread canceller([&] {
    EXPECT_TRUE(runtime_.WaitUntilRunning());
    cancel.Cancel("cancelled by user");
  });
  TaskResult result = RunTask(Spec(), &cancel);
  canceller.join();
  EXPECT_EQ(result.outcome, TaskOutcome::kCancelled);
  EXPECT_EQ(result.message, "cancelled by user");
  EXPECT_THAT(runtime_.removed(), Contains("cwb-00112233aabbccdd-a1"));
  EXPECT_FALSE(fs::exists(paths::Workspace(work_, "00112233aabbccdd", "a1")));
}

TEST_F(BuildPipelineTest, TimeLimitStopsTheBuild) {
  options_.time_limit = std::chrono::seconds(3600);
  runtime_.block_runs_until_cancelled = true;
  std::thread advancer([&] {
    EXPECT_TRUE(runtime_.WaitUntilRunning());
    EXPECT_TRUE(clock_.WaitForSleepers(1));  // the watchdog
    clock_.Advance(std::chrono::seconds(3599));
    clock_.Advance(std::chrono::seconds(1));
  });
  TaskResult result = RunTask(Spec());
  advancer.join();
  EXPECT_EQ(result.outcome, TaskOutcome::kTimedOut);
  EXPECT_EQ(result.message, "time limit of 3600s reached");
}

TEST_F(BuildPipelineTest, LogLinesAreTimestampedInTheFile) {
  TaskResult result = RunTask(Spec());
  std::stringstream text;
  text << std::ifstream(result.log_path).rdbuf();
  EXPECT_THAT(text.str(), HasSubstr("2026-01-02T03:00:00.000Z [build] building..."));
  EXPECT_THAT(text.str(), HasSubstr("[image] STEP 1/1: FROM base"));
}

TEST_F(BuildPipelineTest, RepairCommandTravelsAsAFileAndItsFailureIsNamed) {
  v1::TaskSpec spec = Spec();
  spec.set_repair_command("auditwheel repair \"$CWB_WHEEL\" -w \"$CWB_REPAIR_DIR\"");
  std::string repair_file;
  runtime_.on_run = [&](const ContainerRunRequest& request, const ContainerRuntime::LineCallback&) {
    for (const Mount& mount : request.mounts) {
      if (mount.container_path == "/cwb/ctl") repair_file = ReadText(mount.host_path / "repair_command.sh");
      if (mount.container_path == "/cwb/out") std::ofstream(mount.host_path / ".cwb-stage") << "repair\n";
    }
    return 5;
  };
  TaskResult result = RunTask(spec);
  EXPECT_EQ(result.outcome, TaskOutcome::kFailed);
  EXPECT_EQ(result.message, "the repair command exited with status 5");
  EXPECT_EQ(repair_file, spec.repair_command() + "\n");
  // A build that fails before the repair stage is the build's failure.
  runtime_.on_run = [&](const ContainerRunRequest& request, const ContainerRuntime::LineCallback&) {
    for (const Mount& mount : request.mounts) {
      if (mount.container_path == "/cwb/out") std::ofstream(mount.host_path / ".cwb-stage") << "build\n";
    }
    return 5;
  };
  git_.Script({{"git", "-C"}, {kCommit}, 0, false, 1});
  EXPECT_EQ(RunTask(spec).message, "exit 5");
}

}  // namespace
}  // namespace cwb::testing
