// BuildPipelineTest: a BuildPipeline over a fake container runtime (whose builds write one wheel
// to /cwb/out), a fake git and a fake clock, with a task spec as the planner renders it.
#pragma once

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "agent/agent_paths.h"
#include "agent/build_pipeline.h"
#include "common/config/builtin_template.h"
#include "common/config/cuda_arch.h"
#include "common/config/dockerfile_renderer.h"
#include "common/base/digest.h"
#include "common/rpc/task_proto.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/fake_container_runtime.h"
#include "tests/fakes/fake_process_runner.h"

namespace cwb::testing {

namespace fs = std::filesystem;

inline constexpr char kCommit[] = "0123456789abcdef0123456789abcdef01234567";

inline v1::TaskSpec Spec(const std::string& cuda = "12.1") {
  v1::TaskSpec spec;
  spec.set_id("00112233aabbccdd");
  spec.set_project("demo");
  AppendAxes({{"python_version", "3.11"}, {"cuda_version", cuda}, {"pytorch_version", "2.4.0"}, {"cxx11_abi", "TRUE"}},
             spec.mutable_axes());
  spec.mutable_source()->set_repo_url("https://example.com/demo.git");
  spec.mutable_source()->set_repo_ref("v1.0");
  spec.add_dependencies("ninja");
  v1::EnvVar* env = spec.add_env();
  env->set_name("TORCH_CUDA_ARCH_LIST");
  env->set_value("9.0");
  spec.mutable_image()->set_base_image("base:1");
  // As the planner renders it.
  absl::StatusOr<RenderedImage> image =
      RenderDockerfile({std::string(BuiltinDockerfileTemplate()), "builtin", "base:1", AxesFromProto(spec), {}, {}});
  EXPECT_TRUE(image.ok()) << image.status();
  spec.mutable_image()->set_dockerfile(image->dockerfile);
  spec.mutable_image()->set_content_hash(image->content_hash);
  spec.mutable_image()->set_tag(image->tag);
  return spec;
}

// What the fake builds leave as their wheel: a zip archive with no member (its end record alone),
// which the release gate opens and finds nothing to resolve in.
inline const std::string kEmptyWheel("PK\x05\x06\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 22);

class BuildPipelineTest : public ::testing::Test {
 protected:
  BuildPipelineTest() {
    work_ = fs::path(::testing::TempDir()) / ("pipeline_" + std::to_string(::getpid()) + "_" +
                                              ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(work_);
    options_.work_dir = work_;
    options_.host = {16, 32ull << 30};  // 16 cores, 32 GiB: MAX_JOBS defaults to 8
    options_.stop_grace = std::chrono::seconds(12);
    git_.Script({{"git", "-C"}, {kCommit}, 0, false, 1});  // the first rev-parse resolves the ref
    runtime_.on_run = [this](const ContainerRunRequest& request, const ContainerRuntime::LineCallback& on_line) {
      on_line("building...");
      for (const Mount& mount : request.mounts) {
        if (mount.container_path == "/cwb/out") {
          std::ofstream(mount.host_path / "demo-1.0-cp311-cp311-linux_x86_64.whl") << kEmptyWheel;
        }
      }
      return 0;
    };
  }

  TaskResult RunTask(const v1::TaskSpec& spec, Cancellation* cancel = nullptr,
                     GpuRequest gpus = GpuRequest::All(), const std::string& trust_domain = "",
                     const std::function<void(TaskRun&)>& adjust = {}) {
    BuildPipeline pipeline(runtime_, git_, clock_, options_);
    TaskRun run{&spec, "a1", gpus, [this](const LogLine& line) {
                  std::lock_guard lock(lines_mutex_);
                  lines_.push_back("[" + line.source + "] " + line.text);
                }, cancel};
    run.trust_domain = trust_domain;
    if (adjust) adjust(run);
    return pipeline.Run(run);
  }

  fs::path work_;
  PipelineOptions options_;
  FakeClock clock_;
  FakeProcessRunner git_;
  FakeContainerRuntime runtime_;
  std::mutex lines_mutex_;
  std::vector<std::string> lines_;
};

inline std::string ReadText(const fs::path& path) {
  std::stringstream text;
  text << std::ifstream(path).rdbuf();
  return text.str();
}

}  // namespace cwb::testing
