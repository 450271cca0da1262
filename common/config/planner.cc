#include "common/config/planner.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/config/compatibility.h"
#include "common/config/image_name.h"
#include "common/base/digest.h"
#include "common/config/local_version.h"
#include "common/config/matrix.h"

namespace cwb {
namespace {

// Length-prefixed fields, so no two different specs encode the same way.
void AppendField(std::string& out, std::string_view name, std::string_view value) {
  out.append(name).append(":").append(std::to_string(value.size())).append(":");
  out.append(value).append("\n");
}

// Every value a project restriction names must occur in the expanded matrix.
void CheckRestriction(const MatrixRestriction& restriction,
                      const std::vector<AxisValues>& combinations, Diagnostics& diagnostics) {
  for (const MatrixAxis& axis : restriction.only) {
    for (const std::string& value : axis.values) {
      const bool present = std::any_of(combinations.begin(), combinations.end(),
                                       [&](const AxisValues& c) {
                                         auto v = FindAxis(c, axis.name);
                                         return v && *v == value;
                                       });
      if (!present) {
        diagnostics.Error(axis.location, absl::StrCat(restriction.key_path, ".", axis.name),
                          absl::StrCat("value '", value, "' is not in the build matrix"));
      }
    }
  }
}

}  // namespace

std::vector<EnvEntry> MergeEnv(const std::vector<EnvEntry>& base,
                               const std::vector<EnvEntry>& overrides) {
  std::vector<EnvEntry> merged = base;
  for (const EnvEntry& entry : overrides) {
    auto it = std::find_if(merged.begin(), merged.end(),
                           [&](const EnvEntry& e) { return e.name == entry.name; });
    if (it != merged.end()) {
      it->value = entry.value;
    } else {
      merged.push_back(entry);
    }
  }
  return merged;
}

std::string TaskId(const PlannedTask& task) {
  std::string canonical;
  AppendField(canonical, "project", task.project);
  for (const auto& [name, value] : task.axes) AppendField(canonical, "axis." + name, value);
  AppendField(canonical, "repo_url", task.repo_url);
  AppendField(canonical, "repo_ref", task.repo_ref);
  AppendField(canonical, "build_command", task.build_command);
  for (const std::string& dep : task.dependencies) AppendField(canonical, "dependency", dep);
  for (const EnvEntry& env : task.env) AppendField(canonical, "env." + env.name, env.value);
  AppendField(canonical, "image", task.image.content_hash);
  // Added later: written only when set, so the ids of tasks without them stay as they were.
  if (!task.local_version.empty()) AppendField(canonical, "local_version", task.local_version);
  if (!task.repair_command.empty()) AppendField(canonical, "repair_command", task.repair_command);
  if (task.platform_tag != "linux") AppendField(canonical, "platform_tag", task.platform_tag);
  if (!task.test_command.empty()) AppendField(canonical, "test_command", task.test_command);
  for (const std::string& dep : task.test_dependencies) AppendField(canonical, "test_dependency", dep);
  return Sha256Hex(canonical).substr(0, 16);
}

std::optional<BuildPlan> PlanBuild(const Config& config, Diagnostics& diagnostics, const PlanningOptions& options) {
  const size_t errors_before = diagnostics.errors().size();
  BuildPlan plan;
  plan.config_path = config.config_path;
  plan.output_dir = config.output_dir;
  plan.fail_fast = config.fail_fast;
  plan.max_parallel = config.max_parallel;
  plan.allow_untested = config.allow_untested;

  // A matrix too large to expand is refused before it is: the product of its axes' sizes, plus
  // its includes, bounds what expansion makes.
  size_t bound = config.matrix.axes.empty() ? 0 : 1;
  for (const MatrixAxis& axis : config.matrix.axes) {
    bound = axis.values.empty() || bound <= kMaxMatrixCombinations / axis.values.size()
                ? bound * axis.values.size()
                : kMaxMatrixCombinations + 1;
  }
  if (bound + config.matrix.include.size() > kMaxMatrixCombinations) {
    diagnostics.Error(config.matrix.location, config.matrix.key_path,
                      absl::StrCat("the matrix has more than ", kMaxMatrixCombinations,
                                   " combinations before its exclusions; split it into several configs"));
    return std::nullopt;
  }
  std::vector<AxisValues> combinations = ExpandMatrix(config.matrix, diagnostics);
  if (options.strict_compatibility) diagnostics.PromoteWarnings(" (--strict)");
  if (combinations.empty()) {
    if (diagnostics.errors().size() == errors_before) {
      diagnostics.Error(config.matrix.location, config.matrix.key_path,
                        "the matrix is empty: every combination is excluded");
    }
    return std::nullopt;
  }

  // Combinations no PyTorch release supports are left out (or, strictly, errors).
  absl::StatusOr<CompatibilityTable> compatibility = CompatibilityTable::Make(config.compatibility);
  if (!compatibility.ok()) {
    diagnostics.Error(config.matrix.location, "pytorch_compatibility", std::string(compatibility.status().message()));
    return std::nullopt;
  }
  std::vector<AxisValues> supported;
  for (AxisValues& axes : combinations) {
    std::optional<std::string> reason = compatibility->Unsupported(
        AxisOrEmpty(axes, kPythonAxis), AxisOrEmpty(axes, kCudaAxis), AxisOrEmpty(axes, kTorchAxis));
    if (!reason) {
      supported.push_back(std::move(axes));
    } else if (options.strict_compatibility) {
      diagnostics.Error(config.matrix.location, config.matrix.key_path,
                        absl::StrCat(FormatAxes(axes), ": ", *reason, " (--strict)"));
    } else {
      plan.unsupported.push_back({std::move(axes), *std::move(reason)});
    }
  }
  if (diagnostics.errors().size() != errors_before) return std::nullopt;
  if (supported.empty()) {
    diagnostics.Error(config.matrix.location, config.matrix.key_path,
                      absl::StrCat("no combination of the matrix is supported by a PyTorch release (e.g. ",
                                   plan.unsupported.front().reason, ")"));
    return std::nullopt;
  }
  combinations = std::move(supported);

  // Missing base images are reported once per (torch, cuda) pair, naming a task that needs it.
  std::set<std::pair<std::string, std::string>> reported_missing;
  std::map<std::string, RenderedImage> rendered_by_recipe;
  DockerfileTemplate dockerfile(config.dockerfile_template, config.template_origin);
  bool template_error_reported = false;
  std::set<std::string> label_errors_reported;  // by key path: once per label format

  for (const ProjectConfig& project : config.projects) {
    // The project's label format, else the config's; rendered per task, reported once.
    const std::optional<LocalVersionSetting>& label_setting =
        project.local_version ? project.local_version : config.local_version;
    std::optional<LocalVersionTemplate> label_template;
    if (label_setting && !label_setting->format.empty()) label_template.emplace(label_setting->format);
    std::vector<AxisValues> kept = combinations;
    if (project.restriction) {
      CheckRestriction(*project.restriction, combinations, diagnostics);
      kept = Restrict(combinations, *project.restriction);
      if (kept.empty()) {
        diagnostics.Error(project.restriction->location, project.restriction->key_path,
                          absl::StrCat("project '", project.name,
                                       "' keeps no combination of the build matrix"));
      }
    }
    for (const AxisValues& axes : kept) {
      const std::string& torch = AxisOrEmpty(axes, kTorchAxis);
      const std::string& cuda = AxisOrEmpty(axes, kCudaAxis);
      const BaseImage* base = nullptr;
      if (auto by_torch = config.base_images.find(torch); by_torch != config.base_images.end()) {
        if (auto it = by_torch->second.find(cuda); it != by_torch->second.end()) base = &it->second;
      }
      if (base == nullptr) {
        if (reported_missing.emplace(torch, cuda).second) {
          diagnostics.Error(
              config.base_images_location, "pytorch_base_images",
              absl::StrCat("no base image for pytorch_version ", torch, " with cuda_version ", cuda,
                           ", needed by project '", project.name, "' at ", FormatAxes(axes),
                           " (add pytorch_base_images[\"", torch, "\"][\"", cuda,
                           "\"] or exclude the combination)"));
        }
        continue;
      }

      PlannedTask task;
      task.project = project.name;
      task.axes = axes;
      task.repo_url = project.repo_url;
      task.repo_ref = project.repo_ref;
      task.build_command = project.build_command;
      task.dependencies = project.dependencies;
      task.env = MergeEnv(config.env, project.env);
      task.labels = project.labels;
      task.secret_env = project.secret_env;
      task.repair_command = project.repair_command.value_or(config.repair_command);
      task.test_command = project.test_command;
      task.test_dependencies = project.test_dependencies;
      task.build_needs_gpu = project.build_needs_gpu;
      task.compile_cache = project.compile_cache.value_or(config.compile_cache);
      task.platform_tag = project.platform_tag.value_or(config.platform_tag);
      if (label_template) {
        absl::StatusOr<std::string> label = label_template->Render(axes);
        if (!label.ok()) {
          if (label_errors_reported.insert(label_setting->key_path).second) {
            diagnostics.Error(label_setting->location, label_setting->key_path, std::string(label.status().message()));
          }
          continue;
        }
        task.local_version = *std::move(label);
      }
      task.recipe = {config.dockerfile_template, config.template_origin, FullImageName(base->image), axes,
                     config.apt_packages, config.pip_packages, task.compile_cache};

      // Keyed by what is rendered: two spellings of one image share their Dockerfile.
      const std::string recipe_key =
          absl::StrCat(task.recipe.base_image, "\n", FormatAxes(axes), "\n", task.compile_cache ? "ccache" : "");
      auto cached = rendered_by_recipe.find(recipe_key);
      if (cached == rendered_by_recipe.end()) {
        absl::StatusOr<RenderedImage> rendered = dockerfile.Render(task.recipe);
        if (!rendered.ok()) {
          if (!template_error_reported) {
            diagnostics.Error(config.template_location, "dockerfile_template",
                              std::string(rendered.status().message()));
            template_error_reported = true;
          }
          continue;
        }
        cached = rendered_by_recipe.emplace(recipe_key, *std::move(rendered)).first;
      }
      task.image = cached->second;
      task.id = TaskId(task);
      plan.tasks.push_back(std::move(task));
    }
  }
  if (diagnostics.errors().size() != errors_before) return std::nullopt;
  if (plan.tasks.size() > kMaxTasksPerBuild) {
    diagnostics.Error(config.matrix.location, config.matrix.key_path,
                      absl::StrCat("the plan has ", plan.tasks.size(), " tasks, more than the ", kMaxTasksPerBuild,
                                   " a build may have; split it into several configs"));
    return std::nullopt;
  }
  return plan;
}

}  // namespace cwb
