// The agent's --secret-env names, checked as the config checks a build's secret_env.
#include <cstdlib>

#include "agent/run_task_command.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cwb {
namespace {

using ::testing::HasSubstr;

TEST(PrepareLocalBuildTest, SecretsAreReadFromTheEnvironmentButNeverCwbsOwnTokens) {
  ::setenv("CWB_TEST_BUILD_SECRET", "value", 1);
  ::setenv("PREPARE_TEST_SECRET", "value", 1);
  RuntimeOptions runtime;
  runtime.name = "podman";
  PipelineOptions pipeline;
  pipeline.host.memory_bytes = 1;  // no probe
  pipeline.watchdog_command = {"/bin/true"};
  absl::Status cwb = PrepareLocalBuild(runtime, {"CWB_TEST_BUILD_SECRET"}, &pipeline);
  EXPECT_EQ(cwb.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(cwb.message(), HasSubstr("--secret-env CWB_TEST_BUILD_SECRET: "));
  EXPECT_THAT(cwb.message(), HasSubstr("is cwb's own"));
  EXPECT_THAT(PrepareLocalBuild(runtime, {"NOT-A-NAME"}, &pipeline).message(),
              HasSubstr("is not a valid environment variable name"));
  EXPECT_THAT(PrepareLocalBuild(runtime, {"PREPARE_TEST_UNSET"}, &pipeline).message(), HasSubstr("not set"));
  ASSERT_TRUE(PrepareLocalBuild(runtime, {"PREPARE_TEST_SECRET"}, &pipeline).ok());
  EXPECT_EQ(pipeline.secrets.at("PREPARE_TEST_SECRET"), "value");
  ::unsetenv("CWB_TEST_BUILD_SECRET");
  ::unsetenv("PREPARE_TEST_SECRET");
}

}  // namespace
}  // namespace cwb
