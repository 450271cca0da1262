// A config's text planned as `cwb submit` plans it, as the SubmitBuild request it sends (relative
// paths resolve against "/").
#pragma once

#include <string>

#include "common/config/config_parser.h"
#include "common/rpc/submission.h"
#include "gtest/gtest.h"

namespace cwb::testing {

// One task, cpu, its image from a base nobody pulls; an agent's wheel of it is kOneTaskWheel.
inline constexpr char kOneTaskConfig[] =
    R"(build_target: {python_version: 3.11, cuda_version: cpu, pytorch_version: 2.4.0}
projects:
  - name: demo
    repo_url: https://example.com/demo.git
pytorch_base_images: {"2.4.0": {cpu: base:1}}
)";
inline constexpr char kOneTaskWheel[] = "demo-1.0-py3-none-any.whl";

inline v1::SubmitBuildRequest SubmissionOf(const std::string& config, const std::string& name = "c.yaml",
                                           bool no_cache = false) {
  absl::StatusOr<Config> parsed = LoadConfigText(config, name, "/");
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  if (!parsed.ok()) return {};
  Diagnostics diagnostics;
  std::optional<BuildPlan> plan = PlanBuild(*parsed, diagnostics);
  EXPECT_TRUE(plan.has_value()) << diagnostics.ToString();
  if (!plan) return {};
  return MakeSubmission(*plan, name, no_cache);
}

}  // namespace cwb::testing
