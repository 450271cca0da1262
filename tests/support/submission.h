// A config's text planned as `cwb submit` plans it, as the SubmitBuild request it sends (relative
// paths resolve against "/").
#pragma once

#include <string>

#include "common/config/config_parser.h"
#include "common/rpc/submission.h"
#include "gtest/gtest.h"

namespace cwb::testing {

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
