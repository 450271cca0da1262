// Turns a parsed Config into the build plan: one task per project at each combination of the
// matrix the project keeps, each with its base image, rendered Dockerfile and stable id.
// Reports plan-level problems (no base image for a combination, empty matrices, restrictions
// naming values the matrix lacks) with the config location they come from.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/config/axes.h"
#include "common/config/config.h"
#include "common/config/diagnostics.h"
#include "common/config/dockerfile_renderer.h"

namespace cwb {

// The most tasks one build may have (a client's plan and a coordinator's check both hold to it),
// and the most combinations a matrix may have before its exclusions: a matrix past either is
// refused at planning, before it is expanded.
inline constexpr size_t kMaxTasksPerBuild = 50000;
inline constexpr size_t kMaxMatrixCombinations = 200000;

struct PlannedTask {
  std::string id;  // 16 hex digits of a digest of every field below
  std::string project;
  AxisValues axes;
  std::string repo_url;
  std::string repo_ref;
  std::string build_command;
  std::vector<std::string> dependencies;
  std::vector<EnvEntry> env;  // config env, then the project's (the project wins)
  std::vector<std::string> labels;  // where it may run; not part of the id (it changes no output)
  std::vector<std::string> secret_env;  // names only; values never leave the agents
  std::string local_version;            // the wheels' local version label; empty: none
  std::string repair_command;           // run on each built wheel; empty: none
  std::string platform_tag = "linux";   // "linux", "manylinux" or "manylinux_2_X" (Config::platform_tag)
  std::string test_command;             // the smoke test; empty: none
  std::vector<std::string> test_dependencies;
  bool build_needs_gpu = false;  // where it runs, not what it makes: not part of the id
  bool compile_cache = true;     // how it is built, not what it makes: not part of the id
  ImageRecipe recipe;
  RenderedImage image;
};

// A combination of the matrix no PyTorch release supports, left out of the plan.
struct UnsupportedTarget {
  AxisValues axes;
  std::string reason;  // "PyTorch 2.1 has no wheels for Python 3.12 (it has 3.8, ...)"
};

struct BuildPlan {
  std::string config_path;
  std::filesystem::path output_dir;
  std::vector<PlannedTask> tasks;  // projects in config order, combinations in matrix order
  std::vector<UnsupportedTarget> unsupported;  // in matrix order
  bool fail_fast = false;     // the config's
  uint32_t max_parallel = 0;  // the config's
  bool allow_untested = false;  // the config's
};

struct PlanningOptions {
  // An unsupported combination is an error instead of being left out, and so is every warning
  // (an exclude or include that matches no combination).
  bool strict_compatibility = false;
};

// Plans `config`; nullopt with the problems in `diagnostics` if any (a matrix past
// kMaxMatrixCombinations, or a plan past kMaxTasksPerBuild, among them). Combinations the PyTorch
// compatibility table (built-in, with the config's pytorch_compatibility) says no release
// supports are left out and listed in `unsupported`, or are errors with `strict_compatibility`.
std::optional<BuildPlan> PlanBuild(const Config& config, Diagnostics& diagnostics, const PlanningOptions& options = {});

// The stable id of a task: the same spec always gives the same id.
std::string TaskId(const PlannedTask& task);

// Merges env lists: later entries replace earlier ones of the same name, order of first
// appearance kept.
std::vector<EnvEntry> MergeEnv(const std::vector<EnvEntry>& base,
                               const std::vector<EnvEntry>& overrides);

}  // namespace cwb
