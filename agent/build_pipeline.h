// Turns one task into wheels on this host: render the Dockerfile, build the image unless one with
// that content hash exists, check the source out, run the build in a container with the task's
// environment and the agent's caches mounted, collect the wheels with their sha256, and smoke-test
// them in a fresh container. A BUILD attempt stops before the smoke test; a TEST attempt fetches
// the held wheels of an earlier BUILD instead of building and runs only the smoke test.
// Cancellation and the time limit stop the container (SIGTERM, grace, SIGKILL) and leave nothing
// running. One Run per task attempt; Run may be called from several threads for different
// attempts.
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "agent/attempt_cgroup.h"
#include "agent/compile_cache_setup.h"
#include "agent/container_runtime.h"
#include "agent/watchdog.h"
#include "agent/host_resources.h"
#include "agent/log_sink.h"
#include "common/process/process_runner.h"
#include "common/base/cancellation.h"
#include "common/base/clock.h"
#include "common/web/metrics.h"
#include "cwb/v1/state.pb.h"
#include "cwb/v1/task.pb.h"

namespace cwb {

// Where attempts' cgroups go: each attempt's build runs in <agent_path>/<attempt> (AttemptCgroup),
// limited to the agent's memory and measured.
struct CgroupSettings {
  std::filesystem::path fs_root = "/sys/fs/cgroup";
  AttemptCgroup::Version version = AttemptCgroup::Version::kV2;
  std::string agent_path;  // "/cwb/<agent>"
};

struct PipelineOptions {
  std::filesystem::path work_dir;
  bool keep_failed_workspace = false;
  std::chrono::seconds stop_grace{30};  // SIGTERM to SIGKILL when a build is stopped
  std::chrono::seconds time_limit{0};   // per attempt; 0: none
  // MAX_JOBS of an attempt given no share (run-task); 0: from the host's cores and memory.
  int max_jobs = 0;
  HostResources host;  // the resources builds may use: probed, then lowered to `limits`
  HostLimits limits;
  // Unset: builds are neither measured nor limited (no cgroup access, or a runtime that cannot
  // place its runs).
  std::optional<CgroupSettings> cgroups;
  LogSink::Options log;
  // Secrets this agent may hand to builds that ask for them (`secret_env`), by name.
  std::map<std::string, std::string> secrets;
  // Labels put on every build container besides cwb.task and cwb.attempt (e.g. cwb.agent).
  std::vector<std::pair<std::string, std::string>> container_labels;
  // Where image cache hits, attempts and their durations are counted; null: not counted.
  MetricsRegistry* metrics = nullptr;
  // The program (and its leading arguments) whose `watchdog` subcommand watches each build run
  // (watchdog.h), started with `spawn`; empty: builds run without one.
  std::vector<std::string> watchdog_command;
  std::function<absl::Status(const std::vector<std::string>& argv)> spawn = SpawnDetached;
  // The release gate's static helper, run where the wheels will be imported (DefaultAuditTool()).
  std::filesystem::path audit_tool;
};

// cwb-audit as installed beside the running program: <dir>/../libexec/cwb/cwb-audit.
std::filesystem::path DefaultAuditTool();

struct BuiltWheel {
  std::filesystem::path path;
  std::string filename;
  uint64_t size = 0;
  std::string sha256;
};

enum class TaskOutcome { kSucceeded, kFailed, kCancelled, kTimedOut };
const char* OutcomeName(TaskOutcome outcome);

struct TaskResult {
  TaskOutcome outcome = TaskOutcome::kFailed;
  std::string message;        // what happened, e.g. "the build command exited with status 2"
  int exit_code = -1;         // the container's, when it ran
  std::string commit;         // the source commit built
  bool image_built = false;   // false when an existing image was reused
  std::vector<BuiltWheel> wheels;
  std::vector<std::string> log_tail;  // last lines of the log, for failure reports
  std::filesystem::path log_path;
  // What the build used (its cgroup's counters), when measured.
  std::optional<v1::ResourceUse> use;
  // What the compile cache did for the build (ccache's stats log), when it compiled through it.
  std::optional<v1::CompileCacheStats> compile_cache;
  // What the release gate found in the wheels (audit_step.cc), when it ran.
  std::optional<v1::AuditSummary> audit;
};

struct TaskRun {
  const v1::TaskSpec* spec = nullptr;
  std::string attempt_id;             // unique per attempt of a task
  GpuRequest gpus;                    // ignored for cpu tasks
  LogSink::Callback on_log;           // live log lines; may be empty; called from any thread
  Cancellation* cancel = nullptr;     // may be null
  // TORCH_CUDA_ARCH_LIST for a GPU task whose config does not set it: the compute capabilities
  // of the GPUs given to this attempt ("9.0"); empty: not set.
  std::string cuda_arch_list;
  std::string gpu_description;  // which GPUs the attempt got, for its log; empty: not logged
  // The task's trust domain (Assignment.trust_domain): the caches it shares; empty: "local" (a
  // build not assigned by a coordinator).
  std::string trust_domain;
  // What the coordinator gave the attempt (Assignment.share): MAX_JOBS and NVCC_THREADS come from
  // it; unset fields: the agent's defaults.
  v1::ResourceShare share;
  // What the attempt does: the whole pipeline, the build alone (its wheels are uploaded for a
  // smoke test elsewhere), or the smoke test alone of `held_wheels`, each fetched with `fetch_wheel`
  // into the given path (checked against its sha256).
  v1::TaskStep step = v1::TASK_STEP_WHOLE;
  std::vector<v1::ArtifactInfo> held_wheels;
  std::function<absl::Status(const v1::ArtifactInfo& wheel, const std::filesystem::path& destination)> fetch_wheel;
  // The compile cache's shared store for this attempt (AgentDaemon::Calls); empty: none (the
  // agent's directory only, as in `cwb build`).
  std::function<absl::StatusOr<v1::CompileCacheAccess>()> open_compile_cache;
};

class BuildPipeline {
 public:
  BuildPipeline(ContainerRuntime& runtime, ProcessRunner& runner, Clock& clock,
                PipelineOptions options);

  TaskResult Run(const TaskRun& run);
  // Attempts running now.
  int running() const { return running_.load(); }

  // The environment the container gets (pure; exposed for tests). `cuda_arch_list` and `share` as
  // on TaskRun.
  std::vector<std::pair<std::string, std::string>> ContainerEnv(
      const v1::TaskSpec& spec, const std::string& cuda_arch_list = "",
      const v1::ResourceShare& share = {}) const;

 private:
  // Builds the task's image unless one with its tag exists. Attempts needing the same image
  // wait for one build of it instead of building it twice at once.
  absl::Status EnsureImage(const v1::ImageSpec& image, const std::filesystem::path& workspace,
                           LogSink& log, Cancellation& stop, bool* built);

  // Checks that the image (or the host's Python) gives the cell its Python and torch
  // (image_check.h), logging what it gives; an image's facts are read once per image.
  absl::Status CheckImage(const v1::TaskSpec& spec, LogSink& log);

  TaskResult RunAttempt(const TaskRun& run);
  // A TEST attempt's held wheels, fetched into `artifacts` (each named as a wheel, checked against
  // its sha256); the first that cannot be, named.
  absl::Status FetchHeldWheels(const TaskRun& run, const std::filesystem::path& artifacts, LogSink& log) const;
  // MAX_JOBS of an attempt: its share's, else the agent's --max-jobs, else from its resources.
  int JobsOf(const v1::ResourceShare& share) const;
  // The attempt's cgroup, made and named in `request`; nullopt (logged) when builds are not measured.
  std::optional<AttemptCgroup> PlaceInCgroup(const TaskRun& run, ContainerRunRequest& request, LogSink& log) const;
  // What the build in `cgroup` used (logged), then the cgroup removed.
  std::optional<v1::ResourceUse> Measure(const AttemptCgroup& cgroup, std::chrono::milliseconds wall, int jobs,
                                         int exit_code, LogSink& log) const;
  // The compile cache settings of a build attempt (none for a TEST attempt), its shared store
  // opened (compile_cache_setup.cc).
  CompileCacheEnv CompileCacheOf(const TaskRun& run) const;
  // What the compile cache did for the build: its stats log in `out` (then removed), logged;
  // nothing when the build did not compile through it.
  std::optional<v1::CompileCacheStats> CompileCacheStatsOf(const std::filesystem::path& out, const CompileCacheEnv& cache,
                                                           LogSink& log) const;
  // Marks the attempt alive now (its file's time), creating the file if need be.
  static void TouchAlive(const std::filesystem::path& alive);
  // Starts the watchdog of run `run_name` (nothing without options_.watchdog_command): it stops the
  // run and removes `remove` (and `cgroup`, once emptied) if `alive` grows stale.
  void Watch(const std::string& run_name, const std::filesystem::path& alive,
             std::vector<std::filesystem::path> remove, LogSink& log,
             const AttemptCgroup* cgroup = nullptr);
  // What every container of an attempt shares: its name (cwb-<task>-<attempt><suffix>), image,
  // environment, secrets, GPUs and labels.
  ContainerRunRequest RunRequest(const TaskRun& run, const std::string& image,
                                 const std::vector<std::pair<std::string, std::string>>& secret_env,
                                 const std::string& name_suffix) const;
  // Runs the smoke test of `run`: the image's fresh container `<name>-test` with `artifacts` (the
  // attempt's final wheels) read-only at /cwb/wheels and the test's own files in
  // `workspace`/test-ctl (the script, test_requirements.txt, test_command.sh); how it ended.
  absl::StatusOr<ContainerExit> SmokeTest(const TaskRun& run, const std::string& image,
                                          const std::vector<std::pair<std::string, std::string>>& secret_env,
                                          const std::filesystem::path& workspace,
                                          const std::filesystem::path& artifacts, LogSink& log, Cancellation& stop);
  // The release gate (audit_step.cc): `wheels` (the build's, after repair) checked by cwb-audit in a
  // fresh container of `image` (or on the host), each retagged as the task's platform_tag asks
  // (paths updated); the summary, or the failure naming the symbol, library or policy.
  absl::StatusOr<v1::AuditSummary> AuditWheels(const TaskRun& run, const std::string& image,
                                               std::vector<std::filesystem::path>& wheels,
                                               const std::filesystem::path& workspace, LogSink& log, Cancellation& stop);
  void Count(const char* name, const char* help);

  ContainerRuntime& runtime_;
  ProcessRunner& runner_;
  Clock& clock_;
  const PipelineOptions options_;
  std::atomic<int> running_{0};
  std::mutex image_mutex_;
  std::map<std::string, std::shared_ptr<std::timed_mutex>> image_builds_;  // by tag
  std::map<std::string, std::string> image_facts_;  // by tag, as BaseImageFacts read them
};

}  // namespace cwb
