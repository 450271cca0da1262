// Turns a parsed Config into the build plan: one task per project at each combination of the
// matrix the project keeps, each with its base image, rendered Dockerfile and stable id.
// Reports plan-level problems (no base image for a combination, empty matrices, restrictions
// naming values the matrix lacks) with the config location they come from.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/axes.h"
#include "common/config.h"
#include "common/diagnostics.h"
#include "common/dockerfile_renderer.h"

namespace cwb {

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
  ImageRecipe recipe;
  RenderedImage image;
};

struct BuildPlan {
  std::string config_path;
  std::filesystem::path output_dir;
  std::vector<PlannedTask> tasks;  // projects in config order, combinations in matrix order
};

// Plans `config`; nullopt with the problems in `diagnostics` if any.
std::optional<BuildPlan> PlanBuild(const Config& config, Diagnostics& diagnostics);

// The stable id of a task: the same spec always gives the same id.
std::string TaskId(const PlannedTask& task);

// Merges env lists: later entries replace earlier ones of the same name, order of first
// appearance kept.
std::vector<EnvEntry> MergeEnv(const std::vector<EnvEntry>& base,
                               const std::vector<EnvEntry>& overrides);

}  // namespace cwb
