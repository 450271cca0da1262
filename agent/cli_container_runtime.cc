#include "agent/cli_container_runtime.h"

#include <algorithm>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "agent/failure_cause.h"
#include "agent/image_check.h"
#include "common/base/cancellation.h"

namespace cwb {

absl::StatusOr<EngineKind> ParseEngineKind(const std::string& name) {
  if (name == "docker") return EngineKind::kDocker;
  if (name == "podman") return EngineKind::kPodman;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown container runtime '", name, "' (expected docker or podman)"));
}

absl::StatusOr<bool> CliContainerRuntime::ImageExists(const std::string& tag) {
  absl::StatusOr<CapturedRun> run = RunAndCapture(runner_, {ImageExistsArgv(options_, tag)});
  if (!run.ok()) return run.status();
  if (run->exit.ok()) return true;
  if (run->exit.signal == 0 && run->exit.exit_code == 1) return false;
  // The engine's own words say why (not running, no permission): its "Error:" lines first, on
  // one line, bounded.
  constexpr size_t kMaxEngineMessage = 400;
  std::vector<std::string> lines = absl::StrSplit(run->output, '\n', absl::SkipWhitespace());
  std::stable_partition(lines.begin(), lines.end(), [](const std::string& line) { return line.starts_with("Error"); });
  const std::string said = Shorten(absl::StrJoin(lines, " | "), kMaxEngineMessage);
  return absl::UnavailableError(absl::StrCat(name(), " could not look up image ", tag, " (",
                                             run->exit.Describe(), "): ", said));
}

absl::Status CliContainerRuntime::BuildImage(const ImageBuildRequest& request,
                                             const LineCallback& on_line, Cancellation* cancel) {
  ProcessSpec spec{BuildImageArgv(options_, request)};
  spec.on_stderr_line = request.on_stderr_line;
  absl::StatusOr<ProcessExit> exit = runner_.Run(spec, on_line, cancel);
  if (!exit.ok()) return exit.status();
  if (exit->cancelled) return absl::CancelledError("image build cancelled");
  if (!exit->ok()) {
    return absl::UnknownError(
        absl::StrCat(name(), " build of ", request.tag, " failed (", exit->Describe(), ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<ContainerExit> CliContainerRuntime::RunContainer(const ContainerRunRequest& request,
                                                                const LineCallback& on_line,
                                                                Cancellation* cancel,
                                                                std::chrono::seconds stop_grace) {
  (void)RemoveContainer(request.name);  // a leftover from a crashed attempt

  // On cancellation `stop` signals the container; should the engine not answer, the attached
  // client is killed as a last resort.
  Cancellation run_done;
  Cancellation kill_client;
  std::thread stopper;
  if (cancel != nullptr) {
    stopper = std::thread([&] {
      WaitForAny(*cancel, run_done);
      if (run_done.cancelled()) return;
      on_line(absl::StrCat("cwb: stopping container ", request.name, " (SIGTERM, SIGKILL after ",
                           stop_grace.count(), "s): ", cancel->reason()));
      absl::StatusOr<CapturedRun> stop = RunAndCapture(
          runner_, {StopArgv(options_, request.name, static_cast<int>(stop_grace.count()))});
      if (!stop.ok() || !stop->exit.ok()) kill_client.Cancel("stop failed");
    });
  }
  ProcessSpec spec{RunArgv(options_, request), request.secret_env};
  spec.kill_grace = std::chrono::seconds(5);
  spec.on_stderr_line = request.on_stderr_line;
  absl::StatusOr<ProcessExit> exit = runner_.Run(spec, on_line, &kill_client);
  run_done.Cancel("container exited");
  if (stopper.joinable()) stopper.join();
  absl::Status removed = RemoveContainer(request.name);
  if (!exit.ok()) return exit.status();

  ContainerExit result;
  result.exit_code = exit->signal != 0 ? 128 + exit->signal : exit->exit_code;
  result.cancelled = cancel != nullptr && cancel->cancelled();
  result.description = result.cancelled ? absl::StrCat("cancelled: ", cancel->reason())
                                         : DescribeRunExit(result.exit_code, request.subject);
  if (!removed.ok()) {
    absl::StrAppend(&result.description, "; ", removed.message());
  }
  return result;
}

absl::StatusOr<std::vector<std::string>> CliContainerRuntime::ListContainers(
    const std::string& key, const std::string& value) {
  std::vector<std::string> names;
  ProcessSpec list{ListArgv(options_, key, value)};
  list.discard_stderr = true;  // one name per line of stdout, whatever the CLI says on stderr
  absl::StatusOr<ProcessExit> exit = runner_.Run(
      list,
      [&](std::string_view line) {
        if (!line.empty()) names.emplace_back(line);
      },
      nullptr);
  if (!exit.ok()) return exit.status();
  if (!exit->ok()) {
    return absl::UnavailableError(absl::StrCat(name(), " ps failed (", exit->Describe(), ")"));
  }
  return names;
}

absl::StatusOr<std::string> CliContainerRuntime::BaseImageFacts(const std::string& tag) {
  ProcessSpec read{ReadImageFileArgv(options_, tag, kBaseImageFactsPath)};
  read.discard_stderr = true;  // stdout is the file; cat's or the engine's notes are not
  absl::StatusOr<CapturedRun> run = RunAndCapture(runner_, read);
  if (!run.ok()) return run.status();
  if (run->exit.ok()) return run->output;
  if (run->exit.signal == 0 && run->exit.exit_code == 1) return std::string();  // cat: no such file
  return absl::UnavailableError(absl::StrCat(name(), " could not read ", kBaseImageFactsPath, " of image ", tag, " (",
                                             run->exit.Describe(), ")"));
}

absl::Status CliContainerRuntime::RemoveContainer(const std::string& name) {
  absl::StatusOr<CapturedRun> run = RunAndCapture(runner_, {RemoveArgv(options_, name)});
  if (!run.ok()) return run.status();
  // Exit 1 with "no such container" is success for an idempotent remove.
  if (run->exit.ok() || run->output.find("no such container") != std::string::npos ||
      run->output.find("No such container") != std::string::npos) {
    return absl::OkStatus();
  }
  return absl::UnavailableError(
      absl::StrCat("could not remove container ", name, ": ", run->output));
}

}  // namespace cwb
