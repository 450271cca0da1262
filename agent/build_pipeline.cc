#include "agent/build_pipeline.h"

#include <fstream>
#include <optional>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/agent_paths.h"
#include "agent/container_build_script.h"
#include "agent/pipeline_paths.h"
#include "agent/git_checkout.h"
#include "agent/image_check.h"
#include "agent/wheel_relabel.h"
#include "common/base/atomic_file.h"
#include "common/config/axes.h"
#include "common/config/cuda_arch.h"
#include "common/base/digest.h"
#include "common/config/planner.h"
#include "common/rpc/task_proto.h"
#include "common/config/wheelhouse.h"

namespace cwb {
namespace {

namespace fs = std::filesystem;

// Moves the build's regular *.whl files into `artifacts`, in name order. Links and other
// non-regular files are skipped: the container controls /cwb/out, and a link could point at any
// file on the host.
absl::StatusOr<std::vector<fs::path>> MoveWheels(const fs::path& out, const fs::path& artifacts, LogSink& log) {
  std::vector<fs::path> wheels;
  std::error_code error;
  for (const fs::directory_entry& entry : fs::directory_iterator(out, error)) {
    const fs::path& path = entry.path();
    if (path.extension() != ".whl") continue;
    if (!fs::is_regular_file(fs::symlink_status(path))) {
      log.Write("cwb", absl::StrCat("skipping ", path.filename().string(), ": not a regular file"));
      continue;
    }
    if (absl::StatusOr<WheelName> name = ParseWheelFilename(path.filename().string()); !name.ok()) {
      log.Write("cwb", absl::StrCat("skipping ", name.status().message()));
      continue;
    }
    const fs::path destination = artifacts / path.filename();
    fs::rename(path, destination, error);
    if (error) {
      return absl::InternalError(absl::StrCat("cannot move ", path.string(), ": ", error.message()));
    }
    wheels.push_back(destination);
  }
  if (error) return absl::InternalError(absl::StrCat("cannot list ", out.string(), ": ", error.message()));
  std::sort(wheels.begin(), wheels.end());
  return wheels;
}

// Why a build container that exited with `exit` failed: the stage its script last entered
// ($CWB_OUT/.cwb-stage) tells a failing repair_command from a failing build.
std::string BuildFailure(const fs::path& out, const ContainerExit& exit) {
  std::ifstream in(out / ".cwb-stage");
  std::string stage;
  std::getline(in, stage);
  if (stage == "repair" && exit.exit_code > 0 && exit.exit_code <= 128) {
    return absl::StrCat("the repair command exited with status ", exit.exit_code);
  }
  return exit.description;
}

}  // namespace

absl::Status MakeDirectories(std::initializer_list<std::filesystem::path> dirs) {
  for (const fs::path& dir : dirs) {
    std::error_code error;
    fs::create_directories(dir, error);
    if (error) {
      return absl::ResourceExhaustedError(
          absl::StrCat("cannot create ", dir.string(), ": ", error.message()));
    }
  }
  return absl::OkStatus();
}

const char* OutcomeName(TaskOutcome outcome) {
  switch (outcome) {
    case TaskOutcome::kSucceeded: return "succeeded";
    case TaskOutcome::kFailed: return "failed";
    case TaskOutcome::kCancelled: return "cancelled";
    case TaskOutcome::kTimedOut: return "timed out";
  }
  return "unknown";
}

BuildPipeline::BuildPipeline(ContainerRuntime& runtime, ProcessRunner& runner, Clock& clock,
                             PipelineOptions options)
    : runtime_(runtime), runner_(runner), clock_(clock), options_([&] {
        // Engines read a relative mount source as a volume name: always mount absolute paths.
        options.work_dir = std::filesystem::absolute(options.work_dir).lexically_normal();
        return std::move(options);
      }()) {}

int BuildPipeline::JobsOf(const v1::ResourceShare& share) const {
  if (share.jobs() > 0) return static_cast<int>(share.jobs());
  return options_.max_jobs > 0 ? options_.max_jobs : DefaultMaxJobs(options_.host);
}

std::vector<std::pair<std::string, std::string>> BuildPipeline::ContainerEnv(
    const v1::TaskSpec& spec, const std::string& cuda_arch_list, const v1::ResourceShare& share) const {
  std::vector<EnvEntry> env = {
      {"CWB_TASK_ID", spec.id()},       {"CWB_PROJECT", spec.project()},
      {"CWB_SRC", kSrc},                {"CWB_CTL", kCtl},
      {"CWB_OUT", kOut},                {"PIP_CACHE_DIR", kPipCache},
      {"CCACHE_DIR", kCcache},          {"MAX_JOBS", std::to_string(JobsOf(share))},
  };
  // The config's (or the project's) MAX_JOBS and NVCC_THREADS win over the share's (MergeEnv).
  const bool cuda = IsCudaCell(spec);
  if (share.nvcc_threads() > 0 && cuda) env.push_back({"NVCC_THREADS", absl::StrCat(share.nvcc_threads())});
  // The config's (or the project's) TORCH_CUDA_ARCH_LIST wins over these (MergeEnv): the GPUs' own
  // where the build holds some, else cwb's default for the cell's CUDA (never empty).
  if (cuda) {
    const std::string arch = cuda_arch_list.empty() ? DefaultCudaArchList(AxisOrEmpty(AxesFromProto(spec), kCudaAxis))
                                                    : cuda_arch_list;
    if (!arch.empty()) env.push_back({"TORCH_CUDA_ARCH_LIST", arch});
  }
  for (const v1::AxisValue& axis : spec.axes()) {
    const std::string upper = absl::AsciiStrToUpper(axis.name());
    env.push_back({absl::StrCat("CWB_", upper), axis.value()});
    if (!IsRequiredAxis(axis.name())) env.push_back({upper, axis.value()});  // extra axes by their own name too
  }
  std::vector<EnvEntry> task_env;
  for (const v1::EnvVar& var : spec.env()) task_env.push_back({var.name(), var.value()});
  std::vector<std::pair<std::string, std::string>> out;
  for (const EnvEntry& entry : MergeEnv(env, task_env)) out.emplace_back(entry.name, entry.value);
  return out;
}

absl::Status BuildPipeline::EnsureImage(const v1::ImageSpec& image, const fs::path& workspace, LogSink& log,
                                        Cancellation& stop, bool* built) {
  if (image.dockerfile().empty()) {
    return absl::FailedPreconditionError(
        "image.dockerfile: the task carries no Dockerfile (planned by an older cwb: plan it again)");
  }
  if (const std::string hash = Sha256Hex(image.dockerfile()); hash != image.content_hash()) {
    return absl::FailedPreconditionError(absl::StrCat("image.dockerfile: its sha256 is ", hash.substr(0, 12),
                                                      ", not the image's content hash ",
                                                      image.content_hash().substr(0, 12)));
  }
  std::shared_ptr<std::timed_mutex> building;
  {
    std::lock_guard lock(image_mutex_);
    std::shared_ptr<std::timed_mutex>& entry = image_builds_[image.tag()];
    if (!entry) entry = std::make_shared<std::timed_mutex>();
    building = entry;
  }
  bool waited = false;
  while (!building->try_lock_for(std::chrono::milliseconds(200))) {
    if (!waited) log.Write("cwb", absl::StrCat("waiting for another attempt's build of image ", image.tag()));
    waited = true;
    if (stop.cancelled()) return absl::CancelledError(stop.reason());
  }
  std::unique_lock held(*building, std::adopt_lock);
  absl::StatusOr<bool> exists = runtime_.ImageExists(image.tag());
  if (!exists.ok()) return exists.status();
  if (*exists) {
    log.Write("cwb", absl::StrCat("image ", image.tag(), " exists; reusing it"));
    Count("cwb_agent_image_cache_hits_total", "Attempts whose image existed already");
    return absl::OkStatus();
  }
  Count("cwb_agent_image_builds_total", "Images built");
  log.Write("cwb", absl::StrCat("building image ", image.tag()));
  if (absl::Status s = WriteFileAtomically(workspace / "image" / "Dockerfile", image.dockerfile()); !s.ok()) {
    return s;
  }
  if (absl::Status s = runtime_.BuildImage({image.tag(), workspace / "image" / "Dockerfile", workspace / "image",
                                            {{"cwb.content_hash", image.content_hash()}}, log.StderrFrom("image")},
                                           log.LinesFrom("image"), &stop);
      !s.ok()) {
    return s;
  }
  *built = true;
  return absl::OkStatus();
}

absl::Status BuildPipeline::CheckImage(const v1::TaskSpec& spec, LogSink& log) {
  const std::string tag = runtime_.uses_images() ? spec.image().tag() : "";
  std::optional<std::string> known;  // what was read before ("" too: the image records nothing)
  {
    std::lock_guard lock(image_mutex_);
    if (auto it = image_facts_.find(tag); it != image_facts_.end()) known = it->second;
  }
  if (!known) {
    absl::StatusOr<std::string> read = runtime_.BaseImageFacts(tag);
    if (!read.ok()) return read.status();
    known = *std::move(read);
    std::lock_guard lock(image_mutex_);
    image_facts_[tag] = *known;
  }
  const std::string& text = *known;
  const std::string what = runtime_.uses_images() ? absl::StrCat("image ", tag) : "the host";
  if (text.empty()) {
    log.Write("cwb", absl::StrCat(what, " records nothing of its Python and torch (a Dockerfile template "
                                        "without cwb's facts step): not checked against the cell"));
    return absl::OkStatus();
  }
  absl::StatusOr<ImageFacts> facts = ParseImageFacts(text);
  if (!facts.ok()) return absl::FailedPreconditionError(absl::StrCat(what, ": ", facts.status().message()));
  absl::StatusOr<std::string> gives = CheckImageAgainstCell(*facts, spec);
  if (!gives.ok()) return absl::FailedPreconditionError(absl::StrCat(what, ": ", gives.status().message()));
  log.Write("cwb", absl::StrCat(what, " gives ", *gives));
  return absl::OkStatus();
}

ContainerRunRequest BuildPipeline::RunRequest(const TaskRun& run, const std::string& image,
                                              const std::vector<std::pair<std::string, std::string>>& secret_env,
                                              const std::string& name_suffix) const {
  const v1::TaskSpec& spec = *run.spec;
  ContainerRunRequest request;
  request.name = absl::StrCat("cwb-", spec.id(), "-", run.attempt_id, name_suffix);
  request.image = image;
  request.env = ContainerEnv(spec, run.cuda_arch_list, run.share);
  request.secret_env = secret_env;
  request.gpus = NeedsGpu(spec, run.step) ? run.gpus : GpuRequest::None();
  request.labels = {{"cwb.task", spec.id()}, {"cwb.attempt", run.attempt_id}};
  request.labels.insert(request.labels.end(), options_.container_labels.begin(), options_.container_labels.end());
  return request;
}

std::optional<AttemptCgroup> BuildPipeline::PlaceInCgroup(const TaskRun& run, ContainerRunRequest& request,
                                                          LogSink& log) const {
  if (!options_.cgroups.has_value() || !runtime_.places_in_cgroups()) return std::nullopt;
  AttemptCgroup cgroup(options_.cgroups->fs_root, options_.cgroups->version,
                       absl::StrCat(options_.cgroups->agent_path, "/", run.attempt_id));
  if (absl::Status s = cgroup.Create(options_.host.memory_bytes); !s.ok()) {
    log.Write("cwb", absl::StrCat("the build's memory and CPU time are not measured: ", s.message()));
    (void)cgroup.Remove();
    return std::nullopt;
  }
  request.cgroup = {cgroup.path(), cgroup.JoinFiles()};
  return cgroup;
}

std::optional<v1::ResourceUse> BuildPipeline::Measure(const AttemptCgroup& cgroup, std::chrono::milliseconds wall,
                                                      int jobs, int exit_code, LogSink& log) const {
  absl::StatusOr<ResourceUse> read = cgroup.Read();
  // The engine's monitor (conmon) may outlive the container by a moment: the cgroup goes once it has.
  const absl::Status removed = cgroup.RemoveOnceEmpty(clock_, std::chrono::seconds(5), std::chrono::milliseconds(100));
  if (!removed.ok()) log.Write("cwb", std::string(removed.message()));
  if (!read.ok()) {
    log.Write("cwb", absl::StrCat("the build's memory and CPU time are not known: ", read.status().message()));
    return std::nullopt;
  }
  v1::ResourceUse use;
  use.set_peak_memory_bytes(read->peak_memory_bytes);
  use.set_cpu_ms(read->cpu_time_ns / 1'000'000);
  use.set_wall_ms(wall.count());
  use.set_memory_limit_bytes(options_.host.memory_bytes);
  use.set_out_of_memory(RanOutOfMemory(*read, exit_code, options_.host.memory_bytes));
  use.set_jobs(static_cast<uint32_t>(jobs));
  log.Write("cwb", absl::StrCat("the build used ", DescribeUse(*read), " with MAX_JOBS=", jobs, " (limit ",
                                FormatGiB(options_.host.memory_bytes), ")",
                                use.out_of_memory() ? "; it ran out of memory" : ""));
  return use;
}

void BuildPipeline::TouchAlive(const fs::path& alive) {
  std::error_code error;
  fs::last_write_time(alive, fs::file_time_type::clock::now(), error);
  if (!error) return;
  fs::create_directories(alive.parent_path(), error);
  std::ofstream(alive) << "";
}

void BuildPipeline::Watch(const std::string& run_name, const fs::path& alive, std::vector<fs::path> remove,
                          LogSink& log, const AttemptCgroup* cgroup) {
  if (options_.watchdog_command.empty()) return;
  WatchdogOptions watchdog;
  watchdog.alive = alive;
  watchdog.remove = std::move(remove);
  watchdog.log = paths::WatchdogLog(options_.work_dir);
  ContainerRuntime::Stopper stopper = runtime_.StopperFor(run_name);
  watchdog.stop_command = std::move(stopper.command);
  watchdog.host_run = std::move(stopper.host_run);
  if (cgroup != nullptr) {
    watchdog.cgroup = cgroup->path();
    watchdog.cgroup_root = cgroup->fs_root();
  }
  std::vector<std::string> argv = options_.watchdog_command;
  for (std::string& arg : WatchdogArgs(watchdog)) argv.push_back(std::move(arg));
  if (absl::Status s = options_.spawn(argv); !s.ok()) {
    log.Write("cwb", absl::StrCat("no watchdog for ", run_name, ": ", s.message()));
  }
}

void BuildPipeline::Count(const char* name, const char* help) {
  if (options_.metrics != nullptr) options_.metrics->CounterOf(name, help).Add();
}

TaskResult BuildPipeline::Run(const TaskRun& run) {
  ++running_;
  const Clock::SteadyTime start = clock_.SteadyNow();
  TaskResult result = RunAttempt(run);
  --running_;
  if (options_.metrics != nullptr) {
    const MetricLabels outcome = {{"outcome", OutcomeName(result.outcome)}};
    options_.metrics->CounterOf("cwb_agent_attempts_total", "Attempts ended, by outcome", outcome).Add();
    options_.metrics
        ->HistogramOf("cwb_agent_attempt_duration_seconds", "Time an attempt took, image and build included",
                      DurationBuckets(), outcome)
        .Observe(std::chrono::duration<double>(clock_.SteadyNow() - start).count());
  }
  return result;
}

TaskResult BuildPipeline::RunAttempt(const TaskRun& run) {
  const v1::TaskSpec& spec = *run.spec;
  const fs::path workspace = paths::Workspace(options_.work_dir, spec.id(), run.attempt_id);
  const fs::path artifacts = paths::Artifacts(options_.work_dir, spec.id(), run.attempt_id);
  TaskResult result;
  result.log_path = paths::TaskLog(options_.work_dir, spec.id(), run.attempt_id);

  // The secrets this task asked for and this agent has: handed to the container, masked in logs.
  std::vector<std::pair<std::string, std::string>> secret_env;
  std::vector<std::string> missing_secrets;
  LogSink::Options log_options = options_.log;
  for (const std::string& name : spec.secret_env()) {
    auto it = options_.secrets.find(name);
    if (it == options_.secrets.end()) {
      missing_secrets.push_back(name);
      continue;
    }
    secret_env.emplace_back(name, it->second);
    log_options.secrets.push_back(it->second);
  }
  // The compile cache of a build: its shared store's credential is masked in the log too.
  const CompileCacheEnv cache = CompileCacheOf(run);
  log_options.secrets.insert(log_options.secrets.end(), cache.secrets.begin(), cache.secrets.end());
  absl::StatusOr<std::unique_ptr<LogSink>> log_or =
      LogSink::Open(result.log_path, clock_, run.on_log, log_options);
  if (!log_or.ok()) {
    result.message = std::string(log_or.status().message());
    return result;
  }
  LogSink& log = **log_or;

  // One stop signal for the whole attempt: the caller's cancellation or the time limit. While
  // the attempt runs, its alive file is touched (the watchdogs of its build runs look at it) and
  // the time limit is kept.
  Cancellation stop;
  Cancellation finished;
  bool timed_out = false;
  Cancellation::Subscription forward;
  if (run.cancel != nullptr) forward = run.cancel->Subscribe([&] { stop.Cancel(run.cancel->reason()); });
  const fs::path alive = paths::Alive(options_.work_dir, spec.id(), run.attempt_id);
  TouchAlive(alive);
  std::thread keeper([&] {
    const Clock::SteadyTime deadline = options_.time_limit.count() > 0 ? clock_.SteadyNow() + options_.time_limit
                                                                       : Clock::SteadyTime::max();
    while (clock_.SleepUntil(std::min(clock_.SteadyNow() + kAliveTouchEvery, deadline), &finished)) {
      if (clock_.SteadyNow() >= deadline) {
        timed_out = true;
        stop.Cancel(absl::StrCat("time limit of ", options_.time_limit.count(), "s reached"));
        return;
      }
      TouchAlive(alive);
    }
  });

  auto finish = [&](TaskOutcome outcome, std::string message) {
    finished.Cancel("done");
    keeper.join();
    std::error_code ignored;
    fs::remove(alive, ignored);  // the attempt's watchdogs go too
    forward.Reset();
    if (outcome != TaskOutcome::kSucceeded && stop.cancelled()) {
      outcome = timed_out ? TaskOutcome::kTimedOut : TaskOutcome::kCancelled;
      message = stop.reason();
    }
    // A full disk shows up as some tool's "No space left on device"; say so in the outcome.
    if (outcome == TaskOutcome::kFailed && message.find("No space left") == std::string::npos) {
      for (const std::string& line : log.Tail()) {
        if (line.find("No space left on device") != std::string::npos) {
          absl::StrAppend(&message, " (the disk is full: ", line, ")");
          break;
        }
      }
    }
    result.outcome = outcome;
    result.message = std::move(message);
    log.Write("cwb", absl::StrCat("task ", OutcomeName(result.outcome), ": ", result.message));
    const bool keep = outcome != TaskOutcome::kSucceeded && options_.keep_failed_workspace;
    if (keep) {
      log.Write("cwb", absl::StrCat("workspace kept at ", workspace.string()));
    } else {
      fs::remove_all(workspace, ignored);
    }
    if (outcome != TaskOutcome::kSucceeded) {
      fs::remove_all(artifacts, ignored);
      result.wheels.clear();  // a wheel that failed its smoke test is handed on nowhere
    }
    log.Flush();
    result.log_tail = log.Tail();
    return result;
  };
  auto fail = [&](const absl::Status& status) {
    return finish(TaskOutcome::kFailed, std::string(status.message()));
  };
  // A step ("image", "build", "test") failed: `message`, then the cause its output gave.
  auto fail_step = [&](std::string message, std::string_view step) {
    return finish(TaskOutcome::kFailed, WithCause(std::move(message), log.CauseOf(step)));
  };

  log.Write("cwb", absl::StrCat("task ", spec.id(), " attempt ", run.attempt_id, ": ",
                                spec.project(), " at ", FormatAxes(AxesFromProto(spec))));
  if (run.step != v1::TASK_STEP_WHOLE) log.Write("cwb", absl::StrCat("this attempt's step: ", StepName(run.step)));
  if (!run.gpu_description.empty() && NeedsGpu(spec, run.step)) {
    log.Write("cwb", absl::StrCat("GPUs of this attempt: ", run.gpu_description));
  }
  if (!missing_secrets.empty()) {
    return fail(absl::FailedPreconditionError(absl::StrCat(
        "this agent has no value for secret_env ", absl::StrJoin(missing_secrets, ", "),
        " (start it with --secret-env NAME and NAME in its environment)")));
  }
  if (absl::Status s = MakeDirectories({workspace / "src", workspace / "out", workspace / "ctl",
                                        workspace / "image", artifacts,
                                        paths::PipCache(options_.work_dir, run.trust_domain),
                                        paths::Ccache(options_.work_dir, run.trust_domain)});
      !s.ok()) {
    return fail(s);
  }
  fs::remove(workspace / "src");  // git clone creates it

  // 1. The image: its Dockerfile comes rendered with the task and is checked against its content
  // hash; it is built only when no image of its tag exists. A runtime without images (host)
  // builds in the host's environment instead.
  const v1::ImageSpec& image = spec.image();
  if (!runtime_.uses_images()) {
    log.Write("cwb", absl::StrCat("the ", runtime_.name(),
                                  " runtime builds without an image; pip_packages are installed "
                                  "with the dependencies"));
    if (!spec.image().apt_packages().empty()) {
      log.Write("cwb", absl::StrCat("apt_packages are not installed on the host; it must already "
                                    "have: ", absl::StrJoin(spec.image().apt_packages(), " ")));
    }
  } else if (absl::Status s = EnsureImage(image, workspace, log, stop, &result.image_built); !s.ok()) {
    return fail_step(std::string(s.message()), "image");
  }
  if (stop.cancelled()) return finish(TaskOutcome::kCancelled, "");
  if (absl::Status s = CheckImage(spec, log); !s.ok()) return fail(s);

  if (run.step == v1::TASK_STEP_TEST) {
    // The smoke test alone, of the wheels an earlier BUILD attempt left on the coordinator.
    if (absl::Status s = FetchHeldWheels(run, artifacts, log); !s.ok()) return fail(s);
    if (stop.cancelled()) return finish(TaskOutcome::kCancelled, "");
    absl::StatusOr<ContainerExit> tested = SmokeTest(run, image.tag(), secret_env, workspace, artifacts, log, stop);
    if (!tested.ok()) return fail_step(std::string(tested.status().message()), "test");
    if (tested->cancelled) return finish(TaskOutcome::kCancelled, tested->description);
    if (tested->exit_code != 0) return fail_step(absl::StrCat("the smoke test failed: ", tested->description), "test");
    std::error_code ignored;
    fs::remove_all(artifacts, ignored);  // the coordinator has them; nothing goes back
    return finish(TaskOutcome::kSucceeded,
                  absl::StrCat("smoke test passed", run.gpu_description.empty() ? "" : " on ", run.gpu_description));
  }

  // 2. The source, checked out on the host.
  absl::StatusOr<CheckoutResult> checkout =
      CheckoutSource(runner_, {spec.source().repo_url(), spec.source().repo_ref(), workspace / "src"},
                     log.LinesFrom("git"), &stop);
  if (!checkout.ok()) return fail(checkout.status());
  result.commit = checkout->commit;
  if (stop.cancelled()) return finish(TaskOutcome::kCancelled, "");

  // 3. The control files: values travel as files and environment, never as script text.
  const fs::path ctl = workspace / "ctl";
  std::string requirements;
  if (!runtime_.uses_images()) {
    for (const std::string& package : spec.image().pip_packages()) absl::StrAppend(&requirements, package, "\n");
  }
  for (const std::string& dep : spec.dependencies()) absl::StrAppend(&requirements, dep, "\n");
  for (const auto& [file, text] :
       std::vector<std::pair<std::string, std::string>>{{"build.sh", std::string(ContainerBuildScript())},
                                                        {"requirements.txt", requirements}}) {
    if (absl::Status s = WriteFileAtomically(ctl / file, text); !s.ok()) return fail(s);
  }
  if (!cache.domain_key.empty()) {
    if (absl::Status s = WriteFileAtomically(ctl / kCompileCacheKeyFile, cache.domain_key + "\n"); !s.ok()) return fail(s);
  }
  for (const auto& [file, command] : {std::pair{"build_command.sh", &spec.build_command()},
                                       std::pair{"repair_command.sh", &spec.repair_command()}}) {
    if (command->empty()) continue;
    if (absl::Status s = WriteFileAtomically(ctl / file, *command + "\n"); !s.ok()) return fail(s);
  }

  // 4. The build, in a container.
  ContainerRunRequest request = RunRequest(run, image.tag(), secret_env, "");
  request.command = {"/bin/sh", absl::StrCat(kCtl, "/build.sh")};
  request.workdir = kSrc;
  request.on_stderr_line = log.StderrFrom("build");
  request.env.insert(request.env.end(), cache.env.begin(), cache.env.end());
  request.secret_env.insert(request.secret_env.end(), cache.secret_env.begin(), cache.secret_env.end());
  log.Write("cwb", cache.description);
  request.mounts = {{workspace / "src", kSrc, false},
                    {workspace / "out", kOut, false},
                    {ctl, kCtl, true},
                    {paths::PipCache(options_.work_dir, run.trust_domain), kPipCache, false},
                    {paths::Ccache(options_.work_dir, run.trust_domain), kCcache, false}};
  const std::optional<AttemptCgroup> cgroup = PlaceInCgroup(run, request, log);
  Watch(request.name, alive, {workspace, artifacts}, log, cgroup.has_value() ? &*cgroup : nullptr);
  log.Write("cwb", runtime_.uses_images()
                       ? absl::StrCat("running container ", request.name, " from ", image.tag())
                       : absl::StrCat("running build ", request.name, " on the host (", runtime_.name(),
                                      " runtime)"));
  const Clock::SteadyTime build_start = clock_.SteadyNow();
  absl::StatusOr<ContainerExit> exit =
      runtime_.RunContainer(request, log.LinesFrom("build"), &stop, options_.stop_grace);
  if (cgroup.has_value()) {
    // The MAX_JOBS the build got: the share's, or the config's where it sets one.
    int jobs = JobsOf(run.share);
    for (const auto& [name, value] : request.env) {
      if (name == "MAX_JOBS" && !absl::SimpleAtoi(value, &jobs)) jobs = JobsOf(run.share);
    }
    result.use = Measure(*cgroup,
                         std::chrono::duration_cast<std::chrono::milliseconds>(clock_.SteadyNow() - build_start),
                         jobs, exit.ok() ? exit->exit_code : -1, log);
  }
  result.compile_cache = CompileCacheStatsOf(workspace / "out", cache, log);
  if (!exit.ok()) return fail_step(std::string(exit.status().message()), "build");
  result.exit_code = exit->exit_code;
  if (exit->cancelled) return finish(TaskOutcome::kCancelled, exit->description);
  if (exit->exit_code != 0 && result.use.has_value() && result.use->out_of_memory()) {
    return finish(TaskOutcome::kFailed,
                  absl::StrCat("out of memory (peak ", FormatGiB(result.use->peak_memory_bytes()), " of ",
                               FormatGiB(result.use->memory_limit_bytes()), "): ", BuildFailure(workspace / "out", *exit)));
  }
  if (exit->exit_code != 0) return fail_step(BuildFailure(workspace / "out", *exit), "build");

  // 5. The wheels: moved out of the container's reach, audited, labelled, digested.
  absl::StatusOr<std::vector<fs::path>> moved = MoveWheels(workspace / "out", artifacts, log);
  if (!moved.ok()) return fail(moved.status());
  if (moved->empty()) {
    return finish(TaskOutcome::kFailed, absl::StrCat("the build succeeded but left no wheel in ", kOut));
  }
  // 5a. The release gate: every ELF file's symbols resolved where the wheels will be imported;
  // the platform tag the task asks for (pipeline order: after repair, before labelling).
  absl::StatusOr<v1::AuditSummary> audited = AuditWheels(run, image.tag(), *moved, workspace, log, stop);
  if (!audited.ok()) {
    if (stop.cancelled()) return finish(TaskOutcome::kCancelled, "");
    return fail_step(absl::StrCat("the release gate failed: ", audited.status().message()), "audit");
  }
  result.audit = *audited;
  if (!audited->passed()) return finish(TaskOutcome::kFailed, absl::StrCat("the release gate refused the wheels: ", audited->problem()));
  for (fs::path& wheel : *moved) {
    if (!spec.local_version().empty()) {
      absl::StatusOr<fs::path> labelled = RelabelWheel(wheel, spec.local_version());
      if (!labelled.ok()) return fail(labelled.status());
      if (*labelled != wheel) {
        log.Write("cwb", absl::StrCat("labelled ", wheel.filename().string(), " as ", labelled->filename().string()));
      }
      wheel = *std::move(labelled);
    }
    absl::StatusOr<std::string> digest = Sha256File(wheel);
    if (!digest.ok()) return fail(digest.status());
    result.wheels.push_back({wheel, wheel.filename().string(), fs::file_size(wheel), *digest});
    log.Write("cwb", absl::StrCat("wheel ", wheel.filename().string(), " (", result.wheels.back().size,
                                  " bytes, sha256 ", *digest, ")"));
  }

  // 6. The smoke test: a fresh container of the image with only these wheels installed; a BUILD
  // attempt leaves it to its TEST step, on an agent with a GPU.
  if (run.step == v1::TASK_STEP_BUILD) {
    return finish(TaskOutcome::kSucceeded, absl::StrCat("built ", result.wheels.size(),
                                                        " wheel(s); the smoke test needs a GPU and runs as its own step"));
  }
  if (!spec.test_command().empty()) {
    absl::StatusOr<ContainerExit> tested = SmokeTest(run, image.tag(), secret_env, workspace, artifacts, log, stop);
    if (!tested.ok()) return fail_step(std::string(tested.status().message()), "test");
    if (tested->cancelled) return finish(TaskOutcome::kCancelled, tested->description);
    if (tested->exit_code != 0) {
      return fail_step(absl::StrCat("the smoke test failed: ", tested->description), "test");
    }
  }
  return finish(TaskOutcome::kSucceeded,
                absl::StrCat("built ", result.wheels.size(), " wheel(s)", spec.test_command().empty() ? "" : "; smoke test passed"));
}

}  // namespace cwb
