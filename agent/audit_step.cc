// BuildPipeline's release gate: the attempt's wheels (after repair, before labelling) checked by
// cwb-audit where they will be imported, a fresh container of the cell's image (or the host), and
// retagged to the manylinux policy the task asks for when the audit allows it. Part of
// BuildPipeline (build_pipeline.h); the check itself is common/audit.
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/agent_paths.h"
#include "agent/build_pipeline.h"
#include "agent/pipeline_paths.h"
#include "agent/watchdog_command.h"
#include "agent/wheel_members.h"
#include "agent/wheel_relabel.h"
#include "common/audit/manylinux_policy.h"
#include "common/audit/wheel_audit.h"

namespace cwb {

namespace fs = std::filesystem;

namespace {

constexpr uint64_t kMaxReportBytes = 64 << 20;

}  // namespace

fs::path DefaultAuditTool() {
  const fs::path self = SelfExecutable();
  if (self.empty()) return {};
  return (self.parent_path() / ".." / "libexec" / "cwb" / "cwb-audit").lexically_normal();
}

absl::StatusOr<v1::AuditSummary> BuildPipeline::AuditWheels(const TaskRun& run, const std::string& image,
                                                             std::vector<fs::path>& wheels, const fs::path& workspace,
                                                             LogSink& log, Cancellation& stop) {
  const v1::TaskSpec& spec = *run.spec;
  const fs::path in = workspace / "audit-in";
  const fs::path out = workspace / "audit-out";
  if (absl::Status s = MakeDirectories({in, out}); !s.ok()) return s;
  v1::AuditSummary summary;
  summary.set_wheels(static_cast<uint32_t>(wheels.size()));
  int elf_files = 0;
  for (const fs::path& wheel : wheels) {
    absl::StatusOr<int> extracted = ExtractElfMembers(wheel, in / wheel.filename());
    if (!extracted.ok()) return extracted.status();
    elf_files += *extracted;
  }
  summary.set_elf_files(static_cast<uint32_t>(elf_files));
  if (elf_files == 0) {
    log.Write("cwb", "release gate: no ELF file in the wheels, nothing to resolve; their tags stay as built");
    summary.set_passed(true);
    return summary;
  }
  std::error_code error;
  if (options_.audit_tool.empty() || !fs::is_regular_file(options_.audit_tool, error)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the release gate's helper cwb-audit is not installed at ",
        options_.audit_tool.empty() ? "(unknown)" : options_.audit_tool.string(), " (it comes with cwb-agent)"));
  }

  ContainerRunRequest request = RunRequest(run, image, {}, "-audit");
  request.gpus = GpuRequest::None();  // symbols are resolved, nothing is run on a GPU
  request.subject = "audit";
  request.command = {absl::StrCat(kAuditTools, "/", options_.audit_tool.filename().string()), "--python", "cwb-python",
                     "--report", absl::StrCat(kAuditOut, "/report.pb")};
  for (const fs::path& wheel : wheels) request.command.push_back(absl::StrCat(kAuditIn, "/", wheel.filename().string()));
  request.workdir = kAuditOut;
  request.on_stderr_line = log.StderrFrom("audit");
  request.mounts = {{options_.audit_tool.parent_path(), kAuditTools, true}, {in, kAuditIn, true}, {out, kAuditOut, false}};
  log.Write("cwb", absl::StrCat("release gate: resolving the symbols of ", elf_files, " ELF file(s) in a fresh ",
                                runtime_.uses_images() ? "container " : "run ", request.name));
  Watch(request.name, paths::Alive(options_.work_dir, spec.id(), run.attempt_id), {workspace}, log);
  absl::StatusOr<ContainerExit> exit = runtime_.RunContainer(request, log.LinesFrom("audit"), &stop, options_.stop_grace);
  if (!exit.ok()) return exit.status();
  if (exit->cancelled) return absl::CancelledError(exit->description);

  const fs::path report_path = out / "report.pb";
  const uintmax_t size = fs::file_size(report_path, error);
  if (error) {
    return absl::InternalError(absl::StrCat("the release gate wrote no report (", exit->description, ")"));
  }
  if (size > kMaxReportBytes) return absl::InvalidArgumentError("the release gate's report is larger than 64 MiB");
  v1::AuditReport report;
  std::ifstream report_in(report_path, std::ios::binary);
  if (!report.ParseFromIstream(&report_in)) return absl::InvalidArgumentError("the release gate's report is unreadable");
  if (!report.error().empty()) return absl::FailedPreconditionError(absl::StrCat("the release gate could not run: ", report.error()));
  if (report.wheels_size() != static_cast<int>(wheels.size())) {
    return absl::InternalError(absl::StrCat("the release gate reported ", report.wheels_size(), " of ", wheels.size(), " wheels"));
  }

  const std::string& platform_tag = spec.platform_tag();
  bool passed = true;
  for (size_t i = 0; i < wheels.size(); ++i) {
    v1::WheelAudit& audit = *report.mutable_wheels(static_cast<int>(i));
    summary.set_target(audit.target());
    for (const v1::ElfAudit& file : audit.files()) summary.set_symbols_checked(summary.symbols_checked() + file.symbols_checked());
    if (!audit.passed()) {
      passed = false;
      if (summary.problem().empty()) summary.set_problem(audit::FirstProblem(audit));
      continue;
    }
    const audit::TagDecision decision = audit::DecidePlatformTag(platform_tag, audit.policy());
    if (!decision.refusal.empty()) {
      passed = false;
      if (summary.problem().empty()) {
        summary.set_problem(absl::StrCat("platform_tag ", platform_tag, " refused: ", audit.wheel(), " ", decision.refusal));
      }
      continue;
    }
    if (decision.tag.empty()) {  // linux: as built, the policy it satisfies reported
      summary.add_platform_tags(audit.policy().tag());
      continue;
    }
    absl::StatusOr<fs::path> retagged = RetagWheel(wheels[i], decision.tag);
    if (!retagged.ok()) return retagged.status();
    if (*retagged != wheels[i]) {
      log.Write("cwb", absl::StrCat("retagged ", wheels[i].filename().string(), " as ", retagged->filename().string()));
    }
    wheels[i] = *retagged;
    summary.add_platform_tags(decision.tag);
  }
  summary.set_passed(passed);
  return summary;
}

}  // namespace cwb
