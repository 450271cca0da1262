// `cwb plan` and `cwb render`: read a config, expand its matrix, and show or write the result.
// Each returns the process exit status and writes only to the streams it is given.
#pragma once

#include <optional>
#include <ostream>
#include <string>

#include "common/config/planner.h"
#include "cwb/v1/task.pb.h"

namespace cwb {

// Loads and plans `config_path`; on failure prints every error to `err` and returns nullopt.
std::optional<BuildPlan> LoadPlan(const std::string& config_path, std::ostream& err, bool strict = false);

struct PlanOptions {
  std::string config_path;
  bool json = false;
  bool strict = false;  // a combination no PyTorch release supports is an error
};

// "left out N combination(s) no PyTorch release supports:" and one line each, if any.
void PrintUnsupported(const google::protobuf::RepeatedPtrField<v1::UnsupportedTarget>& unsupported, std::ostream& out);
int RunPlan(const PlanOptions& options, std::ostream& out, std::ostream& err);

struct RenderOptions {
  std::string config_path;
  std::string output_dir;  // empty: <output_dir_host>/dockerfiles
};
int RunRender(const RenderOptions& options, std::ostream& out, std::ostream& err);

// "wheel-builder-py3.10-cuda12.1-0123456789ab": an image tag as a directory name.
std::string ImageDirectoryName(const std::string& tag);

}  // namespace cwb
