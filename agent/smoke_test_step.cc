// BuildPipeline's smoke test: the fresh container (or host run) that installs only an attempt's
// wheels and runs the task's test_command, and, for a TEST attempt, the held wheels fetched from
// the coordinator first. Part of BuildPipeline (build_pipeline.h).
#include "absl/strings/str_cat.h"
#include "agent/agent_paths.h"
#include "agent/build_pipeline.h"
#include "agent/container_build_script.h"
#include "agent/pipeline_paths.h"
#include "common/base/atomic_file.h"
#include "common/config/wheelhouse.h"

namespace cwb {

namespace fs = std::filesystem;

absl::StatusOr<ContainerExit> BuildPipeline::SmokeTest(
    const TaskRun& run, const std::string& image, const std::vector<std::pair<std::string, std::string>>& secret_env,
    const fs::path& workspace, const fs::path& artifacts, LogSink& log, Cancellation& stop) {
  const v1::TaskSpec& spec = *run.spec;
  std::string requirements;
  for (const std::string& dep : spec.test_dependencies()) absl::StrAppend(&requirements, dep, "\n");
  for (const auto& [file, text] : std::vector<std::pair<std::string, std::string>>{
           {"build.sh", std::string(ContainerBuildScript())},
           {"test_requirements.txt", requirements},
           {"test_command.sh", spec.test_command() + "\n"}}) {
    if (absl::Status s = WriteFileAtomically(workspace / "test-ctl" / file, text); !s.ok()) return s;
  }
  if (absl::Status s = MakeDirectories({workspace / "test"}); !s.ok()) return s;
  ContainerRunRequest test = RunRequest(run, image, secret_env, "-test");
  test.subject = "test";
  test.command = {"/bin/sh", absl::StrCat(kCtl, "/build.sh"), "test"};
  test.env.insert(test.env.end(), {{"CWB_WHEELS", kWheels}, {"CWB_TEST_DIR", kTestDir}});
  test.workdir = kTestDir;
  test.on_stderr_line = log.StderrFrom("test");
  test.mounts = {{artifacts, kWheels, true},
                 {workspace / "test-ctl", kCtl, true},
                 {workspace / "test", kTestDir, false},
                 {paths::PipCache(options_.work_dir, run.trust_domain), kPipCache, false}};
  log.Write("cwb", absl::StrCat("smoke test in a fresh ", runtime_.uses_images() ? "container " : "run ", test.name,
                                ": ", spec.test_command()));
  Watch(test.name, paths::Alive(options_.work_dir, spec.id(), run.attempt_id), {workspace, artifacts}, log);
  return runtime_.RunContainer(test, log.LinesFrom("test"), &stop, options_.stop_grace);
}

absl::Status BuildPipeline::FetchHeldWheels(const TaskRun& run, const fs::path& artifacts, LogSink& log) const {
  if (run.held_wheels.empty()) return absl::FailedPreconditionError("the smoke test was given no wheel to test");
  if (!run.fetch_wheel) return absl::FailedPreconditionError("this agent cannot fetch wheels from a coordinator");
  for (const v1::ArtifactInfo& wheel : run.held_wheels) {
    // The name comes from the coordinator: only a plain wheel file name lands in the directory.
    if (absl::StatusOr<WheelName> name = ParseWheelFilename(wheel.filename()); !name.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("held wheel: ", name.status().message()));
    }
    log.Write("cwb", absl::StrCat("fetching held wheel ", wheel.filename(), " (", wheel.size_bytes(),
                                  " bytes) from the coordinator"));
    if (absl::Status s = run.fetch_wheel(wheel, artifacts / wheel.filename()); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat("cannot fetch held wheel ", wheel.filename(), ": ", s.message()));
    }
  }
  return absl::OkStatus();
}

}  // namespace cwb
