#include "client/coverage_command.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/exit_codes.h"
#include "client/plan_commands.h"
#include "client/table.h"
#include "client/wheelhouse_manifest.h"
#include "common/rpc/coverage.h"
#include "common/rpc/task_proto.h"

namespace cwb {
namespace {

namespace fs = std::filesystem;

// The release gate's word on a cell: the platform tags its wheels got (or satisfy), "refused", or
// "" where it did not run.
std::string GateText(const v1::CoverageCell& cell) {
  if (!cell.has_audit()) return "";
  const v1::AuditSummary& audit = cell.audit();
  if (!audit.passed()) return "refused";
  if (audit.elf_files() == 0) return "passed (pure)";
  std::vector<std::string> tags;
  for (const std::string& tag : audit.platform_tags()) {
    const std::string shown = tag.empty() ? "no manylinux" : tag;
    if (std::find(tags.begin(), tags.end(), shown) == tags.end()) tags.push_back(shown);
  }
  return absl::StrCat("passed ", absl::StrJoin(tags, ","));
}

void PrintTable(const v1::CoverageReport& report, bool colour, std::ostream& out) {
  // Extra axes become columns after the three required ones, in first-seen order.
  std::vector<std::string> extra_axes;
  for (const v1::CoverageCell& cell : report.cells()) AddExtraAxisNames(AxesFromProto(cell.axes()), extra_axes);
  std::vector<std::string> headers = {"PROJECT", "PYTHON", "CUDA", "TORCH"};
  for (const std::string& axis : extra_axes) headers.push_back(absl::AsciiStrToUpper(axis));
  headers.insert(headers.end(), {"STATUS", "GATE", "WHEEL OR REASON"});
  TextTable table(headers);
  table.ColourStates(headers.size() - 3, colour);
  for (const v1::CoverageCell& cell : report.cells()) {
    const AxisValues axes = AxesFromProto(cell.axes());
    std::vector<std::string> row = {cell.project().empty() ? "(every project)" : cell.project(),
                                    AxisOrEmpty(axes, kPythonAxis), AxisOrEmpty(axes, kCudaAxis),
                                    AxisOrEmpty(axes, kTorchAxis)};
    for (const std::string& axis : extra_axes) row.push_back(FindAxis(axes, axis).value_or(""));
    row.push_back(cell.untested() ? "built (untested)" : CoverageStatusName(cell.status()));
    row.push_back(GateText(cell));
    std::vector<std::string> wheels;
    for (const std::string& wheel : cell.wheels()) wheels.push_back(fs::path(wheel).filename().string());
    std::string detail = cell.status() == v1::COVERAGE_STATUS_BUILT ? absl::StrJoin(wheels, ", ") : cell.reason();
    if (cell.untested()) absl::StrAppend(&detail, " (", cell.reason(), ")");
    if (cell.outdated()) absl::StrAppend(&detail, " (from an earlier spec of this cell)");
    row.push_back(detail);
    table.AddRow(std::move(row));
  }
  table.Print(out);
  out << report.built() << " of " << report.built() + report.failed() + report.missing() << " cells built, "
      << report.failed() << " failed, " << report.missing() << " missing, " << report.unsupported()
      << " unsupported\n";
}

}  // namespace

int CoverageCommand(const CoverageOptions& options, const RemoteOptions& remote, std::ostream& out,
                    std::ostream& err) {
  std::optional<BuildPlan> plan = LoadPlan(options.config_path, err);
  if (!plan) return kExitUsageError;
  const v1::BuildPlan planned = ToProto(*plan);
  std::vector<const v1::TaskSpec*> specs;
  for (const v1::TaskSpec& spec : planned.tasks()) specs.push_back(&spec);

  // The results: a coordinator's build (its wheels are in its store), or a wheelhouse's manifest
  // (a wheel counts only while its file is there).
  v1::BuildInfo build;
  v1::WheelhouseManifest manifest;
  const fs::path wheelhouse = options.wheelhouse.empty() ? plan->output_dir / "wheelhouse" : fs::path(options.wheelhouse);
  WheelCheck check = [](const v1::ArtifactInfo&) { return std::string(); };
  const google::protobuf::RepeatedPtrField<v1::TaskInfo>* results = &manifest.tasks();
  if (!options.build_id.empty()) {
    CoordinatorConnection connection(remote.connection);
    v1::GetBuildRequest request;
    request.set_build_id(options.build_id);
    request.set_view(v1::TASK_VIEW_SUMMARY);
    grpc::Status status = connection.stub().GetBuild(connection.Context().get(), request, &build);
    if (!status.ok()) {
      err << "cwb: " << status.error_message() << '\n';
      return status.error_code() == grpc::StatusCode::NOT_FOUND ? kExitUsageError : kExitSomeFailed;
    }
    results = &build.tasks();
  } else {
    absl::StatusOr<v1::WheelhouseManifest> read = ReadWheelhouseManifest(wheelhouse);
    if (!read.ok()) {
      err << "cwb: " << read.status().message() << '\n';
      return kExitUsageError;
    }
    manifest = *std::move(read);
    if (manifest.tasks().empty()) {
      err << "cwb: " << (wheelhouse / kWheelhouseManifest).string()
          << " holds no results (cwb fetch and cwb build write it); every cell is missing\n";
    }
    check = [&wheelhouse](const v1::ArtifactInfo& artifact) {
      const fs::path relative = fs::path(artifact.wheelhouse_path()).lexically_relative("wheelhouse");
      std::error_code error;
      const uintmax_t size = fs::file_size(wheelhouse / relative, error);
      if (!error && size == artifact.size_bytes()) return std::string();
      return absl::StrCat(artifact.filename(), " was built but is not in ", wheelhouse.string(),
                          error ? "" : " (a file of another size has its name)");
    };
  }
  std::vector<const v1::TaskInfo*> tasks;
  for (const v1::TaskInfo& task : *results) tasks.push_back(&task);
  const v1::CoverageReport report = MakeCoverage(options.config_path, specs, planned.unsupported(), tasks, check);

  if (options.format == "json") {
    out << ToJson(report) << '\n';
  } else if (options.format == "markdown") {
    // Wheels are linked relative to the wheelhouse's parent, where a README beside it would be.
    out << CoverageMarkdown(report, [](const v1::CoverageCell&, const std::string& wheel) { return wheel; });
  } else {
    PrintTable(report, UseColour(remote.terminal), out);
  }
  return report.failed() == 0 && report.missing() == 0 ? kExitSuccess : kExitSomeFailed;
}

}  // namespace cwb
