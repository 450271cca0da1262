#include "client/plan_commands.h"

#include <map>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "client/exit_codes.h"
#include "client/table.h"
#include "common/base/atomic_file.h"
#include "common/config/config_parser.h"
#include "common/rpc/task_proto.h"

namespace cwb {

void PrintUnsupported(const google::protobuf::RepeatedPtrField<v1::UnsupportedTarget>& unsupported, std::ostream& out) {
  if (unsupported.empty()) return;
  out << "left out " << unsupported.size() << " combination(s) no PyTorch release supports (--strict: an error):\n";
  for (const v1::UnsupportedTarget& target : unsupported) {
    std::string axes;
    for (const v1::AxisValue& axis : target.axes()) absl::StrAppend(&axes, axes.empty() ? "" : ", ", axis.name(), "=", axis.value());
    out << "  " << axes << ": " << target.reason() << '\n';
  }
}

std::optional<BuildPlan> LoadPlan(const std::string& config_path, std::ostream& err, bool strict) {
  absl::StatusOr<Config> config = LoadConfigFile(config_path);
  if (!config.ok()) {
    err << config.status().message() << '\n';
    return std::nullopt;
  }
  Diagnostics diagnostics;
  std::optional<BuildPlan> plan = PlanBuild(*config, diagnostics, {.strict_compatibility = strict});
  err << diagnostics.WarningLines();
  if (!plan) err << diagnostics.ToString() << '\n';
  return plan;
}

std::string ImageDirectoryName(const std::string& tag) {
  return absl::StrReplaceAll(tag, {{":", "-"}, {"/", "-"}});
}

int RunPlan(const PlanOptions& options, std::ostream& out, std::ostream& err) {
  std::optional<BuildPlan> plan = LoadPlan(options.config_path, err, options.strict);
  if (!plan) return kExitUsageError;
  if (options.json) {
    out << ToJson(ToProto(*plan)) << '\n';
    return kExitSuccess;
  }
  // Extra axes become columns after the three required ones, in first-seen order.
  std::vector<std::string> extra_axes;
  for (const PlannedTask& task : plan->tasks) AddExtraAxisNames(task.axes, extra_axes);
  const bool labelled = std::any_of(plan->tasks.begin(), plan->tasks.end(),
                                    [](const PlannedTask& task) { return !task.local_version.empty(); });
  std::vector<std::string> headers = {"ID", "PROJECT", "PYTHON", "CUDA", "TORCH"};
  for (const std::string& axis : extra_axes) headers.push_back(absl::AsciiStrToUpper(axis));
  if (labelled) headers.push_back("LABEL");
  headers.push_back("IMAGE");
  TextTable table(headers);
  std::set<std::string> images;
  for (const PlannedTask& task : plan->tasks) {
    std::vector<std::string> row = {task.id, task.project, AxisOrEmpty(task.axes, kPythonAxis),
                                    AxisOrEmpty(task.axes, kCudaAxis),
                                    AxisOrEmpty(task.axes, kTorchAxis)};
    for (const std::string& axis : extra_axes) row.push_back(FindAxis(task.axes, axis).value_or(""));
    if (labelled) row.push_back(task.local_version.empty() ? "-" : "+" + task.local_version);
    row.push_back(task.image.tag);
    table.AddRow(std::move(row));
    images.insert(task.image.content_hash);
  }
  table.Print(out);
  out << plan->tasks.size() << " tasks, " << images.size() << " images\n";
  PrintUnsupported(ToProto(*plan).unsupported(), out);
  return kExitSuccess;
}

int RunRender(const RenderOptions& options, std::ostream& out, std::ostream& err) {
  std::optional<BuildPlan> plan = LoadPlan(options.config_path, err);
  if (!plan) return kExitUsageError;
  const std::filesystem::path dir = options.output_dir.empty()
                                        ? plan->output_dir / "dockerfiles"
                                        : std::filesystem::path(options.output_dir);
  // One Dockerfile per distinct image, in plan order.
  std::vector<const PlannedTask*> first_user;
  std::map<std::string, int> task_count;
  for (const PlannedTask& task : plan->tasks) {
    if (task_count[task.image.content_hash]++ == 0) first_user.push_back(&task);
  }
  TextTable table({"IMAGE", "TASKS", "DOCKERFILE"});
  for (const PlannedTask* task : first_user) {
    const std::filesystem::path file = dir / ImageDirectoryName(task->image.tag) / "Dockerfile";
    if (absl::Status status = WriteFileAtomically(file, task->image.dockerfile); !status.ok()) {
      err << status.message() << '\n';
      return kExitSomeFailed;
    }
    table.AddRow({task->image.tag, std::to_string(task_count[task->image.content_hash]),
                  file.string()});
  }
  table.Print(out);
  out << first_user.size() << " Dockerfiles written to " << dir.string() << '\n';
  return kExitSuccess;
}

}  // namespace cwb
