#include "client/remote_commands.h"

#include <google/protobuf/arena.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "client/build_view.h"
#include "client/plan_commands.h"
#include "client/exit_codes.h"
#include "client/table.h"
#include "client/terminal_text.h"
#include "client/wheel_download.h"
#include "client/wheelhouse_index.h"
#include "client/wheelhouse_manifest.h"
#include "common/base/atomic_file.h"
#include "common/base/clock.h"
#include "common/config/config_parser.h"
#include "common/base/digest.h"
#include "common/rpc/grpc_status.h"
#include "common/rpc/loopback.h"
#include "common/rpc/submission.h"
#include "common/rpc/task_proto.h"
#include "common/rpc/task_state.h"

namespace cwb {
namespace {

namespace fs = std::filesystem;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Prints a failed call; config errors and unknown ids are the caller's (2), the rest 1.
int Fail(const grpc::Status& status, std::ostream& err) {
  err << "cwb: " << status.error_message() << '\n';
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    err << "cwb: is the coordinator running? (--coordinator, CWB_COORDINATOR)\n";
  }
  return status.error_code() == grpc::StatusCode::INVALID_ARGUMENT ||
                 status.error_code() == grpc::StatusCode::NOT_FOUND
             ? kExitUsageError
             : kExitSomeFailed;
}

int ExitFor(const v1::BuildInfo& build) {
  return build.succeeded() == build.total() ? kExitSuccess : kExitSomeFailed;
}

// A repository on this machine's disk (a path, or a file:// URL).
bool IsLocalRepository(const std::string& repo_url) {
  return repo_url.starts_with("/") || repo_url.starts_with("file://");
}

// Resolves a unique task-id prefix within a build.
absl::StatusOr<std::string> ResolveTask(CoordinatorConnection& connection,
                                        const std::string& build_id, const std::string& prefix) {
  v1::GetBuildRequest request;
  request.set_build_id(build_id);
  request.set_view(v1::TASK_VIEW_SUMMARY);
  v1::BuildInfo build;
  grpc::Status status = connection.stub().GetBuild(connection.Context().get(), request, &build);
  if (!status.ok()) return FromGrpcStatus(status);
  std::vector<std::string> matches;
  for (const v1::TaskInfo& task : build.tasks()) {
    if (task.spec().id() == prefix) return prefix;
    if (task.spec().id().starts_with(prefix)) matches.push_back(task.spec().id());
  }
  if (matches.size() == 1) return matches.front();
  return absl::NotFoundError(absl::StrCat("task: ", matches.empty() ? "no" : "more than one",
                                          " task of build ", build_id, " matches '", prefix, "'"));
}

// `json`: each event as one JSON line instead of the live view.
int Watch(CoordinatorConnection& connection, const std::string& build_id, const RemoteOptions& options,
          std::ostream& out, std::ostream& err) {
  bool terminal = options.terminal;
  const bool json = options.json;
  // Where a failed task's whole log can be read.
  auto log_of = [&](const std::string& task_id) {
    if (options.local_log_path) return options.local_log_path(build_id, task_id);
    return absl::StrCat("cwb logs ", build_id, " ", task_id);
  };
  std::ostream discard(nullptr);  // the view still counts failures when the output is JSON
  if (json) terminal = false;
  v1::WatchBuildRequest request;
  request.set_build_id(build_id);
  // A broken stream (a restarting coordinator) is reattached with a fresh snapshot.
  for (int failures = 0; failures < 60; ++failures) {
    auto context = connection.StreamContext();
    std::unique_ptr<grpc::ClientReader<v1::BuildEvent>> reader =
        connection.stub().WatchBuild(context.get(), request);
    LiveBuildView view(json ? discard : out, terminal, [] { return QueryTerminalSize(STDOUT_FILENO); });
    // On a terminal the view redraws by itself between events (elapsed times, coalesced changes).
    Cancellation read_done;
    std::thread ticker;
    if (terminal) {
      ticker = std::thread([&] {
        while (SystemClock::Get().SleepUntil(SystemClock::Get().SteadyNow() + std::chrono::milliseconds(200),
                                             &read_done)) {
          view.Tick(NowMs());
        }
      });
    }
    v1::BuildEvent event;
    bool finished = false;
    bool got_snapshot = false;
    while (reader->Read(&event)) {
      if (json) out << ToJsonLine(event) << std::endl;
      if (event.has_snapshot()) {
        view.Snapshot(event.snapshot(), NowMs());
        got_snapshot = true;
      } else if (event.has_task()) {
        view.Update(event.task(), NowMs());
      }
      if (event.build_finished() || (options.end_when_settled && view.Settled())) {
        finished = true;
        break;
      }
    }
    read_done.Cancel("the watch stream ended");
    if (ticker.joinable()) ticker.join();
    if (finished) {
      context->TryCancel();
      reader->Finish();
      view.Finish(NowMs(), log_of);
      return view.failed() == 0 && view.unfinished() == 0 ? kExitSuccess : kExitSomeFailed;
    }
    grpc::Status status = reader->Finish();
    if (status.error_code() == grpc::StatusCode::NOT_FOUND ||
        status.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
      return Fail(status, err);
    }
    if (got_snapshot) failures = 0;
    err << "cwb: watch interrupted (" << status.error_message() << "); reattaching\n";
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  err << "cwb: gave up reattaching to build " << build_id << '\n';
  return kExitSomeFailed;
}

}  // namespace

absl::StatusOr<v1::SubmitBuildRequest> MakeSubmitRequest(const std::string& config_path, const RemoteOptions& options,
                                                         std::ostream& warnings) {
  absl::StatusOr<Config> config = LoadConfigFile(config_path);
  if (!config.ok()) return config.status();
  Diagnostics diagnostics;
  std::optional<BuildPlan> plan = PlanBuild(*config, diagnostics, {.strict_compatibility = options.strict});
  warnings << diagnostics.WarningLines();
  if (!plan) return diagnostics.ToStatus();
  if (!IsLoopbackAddress(options.connection.coordinator)) {
    for (const ProjectConfig& project : config->projects) {
      if (!IsLocalRepository(project.repo_url)) continue;
      diagnostics.Error(project.location, project.key_path + ".repo_url",
                        absl::StrCat(project.repo_url, " is on this machine, and the coordinator at ",
                                     options.connection.coordinator,
                                     " is not: give a URL its agents can clone (https://, ssh://), or build here "
                                     "with `cwb build`"));
    }
    if (!diagnostics.errors().empty()) return diagnostics.ToStatus();
  }
  if (options.allow_untested) plan->allow_untested = true;
  return MakeSubmission(*plan, config_path, options.no_cache);
}

int SubmitCommand(const RemoteOptions& options, const std::string& config_path, bool watch,
                  std::ostream& out, std::ostream& err, std::string* build_id) {
  absl::StatusOr<v1::SubmitBuildRequest> request = MakeSubmitRequest(config_path, options, err);
  if (!request.ok()) {
    err << request.status().message() << '\n';
    return kExitUsageError;
  }
  CoordinatorConnection connection(options.connection);
  v1::BuildInfo build;
  grpc::Status status = connection.stub().SubmitBuild(connection.Context().get(), *request, &build);
  if (!status.ok()) return Fail(status, err);
  if (build_id != nullptr) *build_id = build.build_id();
  if (options.json) {
    out << (watch ? ToJsonLine(build) : ToJson(build)) << '\n';  // with --watch, JSON Lines throughout
  } else {
    out << "build " << build.build_id() << ": " << build.total() << " tasks submitted\n";
    PrintUnsupported(build.unsupported(), out);
  }
  if (!watch) return kExitSuccess;
  return Watch(connection, build.build_id(), options, out, err);
}

int WatchCommand(const RemoteOptions& options, const std::string& build_id, std::ostream& out,
                 std::ostream& err) {
  CoordinatorConnection connection(options.connection);
  return Watch(connection, build_id, options, out, err);
}

int StatusCommand(const RemoteOptions& options, const std::string& build_id, std::ostream& out,
                  std::ostream& err) {
  CoordinatorConnection connection(options.connection);
  if (build_id.empty()) {
    v1::ListBuildsResponse builds;
    grpc::Status status =
        connection.stub().ListBuilds(connection.Context().get(), v1::ListBuildsRequest(), &builds);
    if (!status.ok()) return Fail(status, err);
    if (options.json) {
      out << ToJson(builds) << '\n';
      return kExitSuccess;
    }
    TextTable table({"BUILD", "CONFIG", "TASKS", "SUCCEEDED", "FAILED", "CANCELLED", "STATE"});
    table.ColourStates(6, UseColour(options.terminal));
    for (const v1::BuildInfo& build : builds.builds()) {
      table.AddRow({build.build_id(), build.config_name(), std::to_string(build.total()),
                    std::to_string(build.succeeded()), std::to_string(build.failed()),
                    std::to_string(build.cancelled()), build.finished() ? "finished" : "running"});
    }
    table.Print(out);
    return kExitSuccess;
  }
  v1::GetBuildRequest request;
  request.set_build_id(build_id);
  request.set_view(options.json ? v1::TASK_VIEW_FULL : v1::TASK_VIEW_SUMMARY);
  // On an arena: a build of ten thousand tasks is parsed without ten thousand allocations each.
  google::protobuf::Arena arena;
  v1::BuildInfo& build = *google::protobuf::Arena::CreateMessage<v1::BuildInfo>(&arena);
  grpc::Status status = connection.stub().GetBuild(connection.Context().get(), request, &build);
  if (!status.ok()) return Fail(status, err);
  if (options.json) {
    out << ToJson(build) << '\n';
  } else {
    PrintTaskTable(build, NowMs(), out, UseColour(options.terminal));
  }
  return build.finished() ? ExitFor(build) : kExitSuccess;
}

int LogsCommand(const RemoteOptions& options, const std::string& build_id,
                const std::string& task_id, bool follow, bool raw, uint32_t tail_lines, std::ostream& out,
                std::ostream& err) {
  CoordinatorConnection connection(options.connection);
  absl::StatusOr<std::string> task = ResolveTask(connection, build_id, task_id);
  if (!task.ok()) {
    err << "cwb: " << task.status().message() << '\n';
    return kExitUsageError;
  }
  v1::StreamLogRequest request;
  request.set_build_id(build_id);
  request.set_task_id(*task);
  request.set_follow(follow);
  request.set_tail_lines(tail_lines);
  auto context = connection.StreamContext();
  std::unique_ptr<grpc::ClientReader<v1::LogChunk>> reader =
      connection.stub().StreamLog(context.get(), request);
  v1::LogChunk chunk;
  while (reader->Read(&chunk)) {
    out << (raw ? chunk.data() : EscapeControlCharacters(chunk.data())) << std::flush;
  }
  grpc::Status status = reader->Finish();
  return status.ok() ? kExitSuccess : Fail(status, err);
}

int FetchCommand(const RemoteOptions& options, const std::string& build_id,
                 const std::string& output_dir, std::ostream& out, std::ostream& err) {
  CoordinatorConnection connection(options.connection);
  v1::GetBuildRequest request;
  request.set_build_id(build_id);
  request.set_view(v1::TASK_VIEW_SUMMARY);
  v1::BuildInfo build;
  grpc::Status status = connection.stub().GetBuild(connection.Context().get(), request, &build);
  if (!status.ok()) return Fail(status, err);
  int fetched = 0, skipped = 0, failed = 0;
  std::vector<IndexedWheel> present;
  for (const v1::TaskInfo& task : build.tasks()) {
    const AxisValues axes = AxesFromProto(task.spec());
    for (const v1::ArtifactInfo& artifact : task.artifacts()) {
      const fs::path destination = fs::path(output_dir) / artifact.wheelhouse_path();
      const IndexedWheel indexed{VariantName(axes), artifact.filename(), artifact.wheelhouse_path(), artifact.sha256()};
      std::error_code error;
      if (fs::exists(destination, error)) {
        absl::StatusOr<std::string> digest = Sha256File(destination);
        if (digest.ok() && *digest == artifact.sha256()) {
          ++skipped;
          present.push_back(indexed);
          continue;
        }
      }
      if (absl::Status s = DownloadWheel(connection, build_id, task.spec().id(), artifact, destination); !s.ok()) {
        err << "cwb: " << artifact.filename() << ": " << s.message() << '\n';
        ++failed;
        continue;
      }
      out << destination.string() << '\n';
      present.push_back(indexed);
      ++fetched;
    }
  }
  out << fetched << " fetched, " << skipped << " already present, " << failed << " failed; "
      << build.succeeded() << " of " << build.total() << " tasks succeeded\n";
  // What `cwb coverage` reads: each finished cell's result, beside its wheels.
  if (absl::Status s = RecordWheelhouseResults(fs::path(output_dir) / "wheelhouse", build.tasks()); !s.ok()) {
    err << "cwb: " << s.message() << '\n';
    return kExitSomeFailed;
  }
  if (options.index) {
    if (absl::Status s = UpdateWheelhouseIndex(output_dir, present); !s.ok()) {
      err << "cwb: index: " << s.message() << '\n';
      return kExitSomeFailed;
    }
    out << "pip index: " << (fs::absolute(output_dir) / "simple").string() << "/ (one per variant beneath it)\n";
  }
  return failed == 0 && build.finished() && build.succeeded() == build.total() ? kExitSuccess
                                                                               : kExitSomeFailed;
}

int CancelCommand(const RemoteOptions& options, const std::string& build_id,
                  const std::string& task_id, std::ostream& out, std::ostream& err) {
  CoordinatorConnection connection(options.connection);
  v1::CancelRequest request;
  request.set_build_id(build_id);
  if (!task_id.empty()) {
    absl::StatusOr<std::string> task = ResolveTask(connection, build_id, task_id);
    if (!task.ok()) {
      err << "cwb: " << task.status().message() << '\n';
      return kExitUsageError;
    }
    request.set_task_id(*task);
  }
  v1::CancelResponse response;
  grpc::Status status = connection.stub().Cancel(connection.Context().get(), request, &response);
  if (!status.ok()) return Fail(status, err);
  out << response.cancelled() << " task(s) cancelled\n";
  return kExitSuccess;
}

int RetryCommand(const RemoteOptions& options, const std::string& build_id,
                 const std::vector<std::string>& task_ids, std::ostream& out, std::ostream& err) {
  CoordinatorConnection connection(options.connection);
  v1::RetryRequest request;
  request.set_build_id(build_id);
  for (const std::string& prefix : task_ids) {
    absl::StatusOr<std::string> task = ResolveTask(connection, build_id, prefix);
    if (!task.ok()) {
      err << "cwb: " << task.status().message() << '\n';
      return kExitUsageError;
    }
    request.add_task_ids(*task);
  }
  v1::RetryResponse response;
  grpc::Status status = connection.stub().Retry(connection.Context().get(), request, &response);
  if (!status.ok()) return Fail(status, err);
  out << response.requeued() << " task(s) queued again\n";
  return kExitSuccess;
}

int AgentsCommand(const RemoteOptions& options, std::ostream& out, std::ostream& err) {
  CoordinatorConnection connection(options.connection);
  v1::ListAgentsResponse agents;
  grpc::Status status =
      connection.stub().ListAgents(connection.Context().get(), v1::ListAgentsRequest(), &agents);
  if (!status.ok()) return Fail(status, err);
  if (options.json) {
    out << ToJson(agents) << '\n';
    return kExitSuccess;
  }
  TextTable table({"AGENT", "HOST", "STATE", "SLOTS", "RUNNING", "GPUS", "CUDA", "LABELS"});
  table.ColourStates(2, UseColour(options.terminal));
  for (const v1::AgentInfo& agent : agents.agents()) {
    const v1::AgentCapabilities& caps = agent.capabilities();
    std::string gpus = std::to_string(caps.gpus_size());
    if (caps.gpus_size() > 0) absl::StrAppend(&gpus, " x ", caps.gpus(0).name());
    std::string labels;
    for (const std::string& label : caps.labels()) absl::StrAppend(&labels, labels.empty() ? "" : ",", label);
    table.AddRow({agent.agent_id(), caps.hostname(), agent.connected() ? "connected" : "disconnected",
                  std::to_string(caps.slots()), std::to_string(agent.running_attempts_size()), gpus,
                  caps.driver_cuda_version().empty() ? "-" : caps.driver_cuda_version(), labels});
  }
  table.Print(out);
  return kExitSuccess;
}

}  // namespace cwb
