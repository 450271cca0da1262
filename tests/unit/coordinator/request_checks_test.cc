// What the coordinator accepts of a submitted build: a plan the client made passes; each kind of
// tampering is refused naming its field; sizes are checked before any pattern sees the text.
#include "coordinator/request_checks.h"

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/submission.h"

namespace cwb {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kConfig[] = R"(build_matrix:
  python_version: [3.11]
  cuda_version: [cpu]
  pytorch_version: [2.4.0, 2.5.0]
  cxx11_abi: ["TRUE"]
projects:
  - name: demo
    repo_url: https://example.com/demo.git
    env: {MAX_JOBS: "4"}
pytorch_base_images:
  "2.4.0": {cpu: base:1}
  "2.5.0": {cpu: base:1}
)";

v1::SubmitBuildRequest Submission() { return testing::SubmissionOf(kConfig); }

std::string Problem(const v1::SubmitBuildRequest& request, const PlanLimits& limits = {}) {
  absl::Status status = CheckSubmission(request, limits);
  EXPECT_TRUE(status.ok() || absl::IsInvalidArgument(status)) << status;
  return std::string(status.message());
}

TEST(PlanCheckTest, APlanTheClientMadePasses) {
  v1::SubmitBuildRequest request = Submission();
  EXPECT_EQ(request.dockerfiles_size(), 2);  // one per PyTorch version
  EXPECT_TRUE(request.plan().config_path().empty());
  EXPECT_TRUE(CheckSubmission(request).ok()) << CheckSubmission(request);
}

TEST(PlanCheckTest, EachTamperedFieldIsNamed) {
  struct Case {
    std::function<void(v1::SubmitBuildRequest&)> tamper;
    std::string problem;
  };
  const std::vector<Case> cases = {
      {[](auto& r) { r.mutable_plan()->clear_tasks(); }, "plan.tasks: a build needs at least one task"},
      {[](auto& r) { r.mutable_plan()->mutable_tasks(1)->set_id("0000000000000000"); },
       "plan.tasks[1].id: '0000000000000000' does not match the spec"},
      {[](auto& r) { *r.mutable_plan()->add_tasks() = r.plan().tasks(0); }, "plan.tasks[2].id: "},
      {[](auto& r) { r.mutable_plan()->mutable_tasks(0)->mutable_source()->set_repo_url("./demo"); },
       "plan.tasks[0].source.repo_url: a relative path"},
      {[](auto& r) { r.mutable_plan()->mutable_tasks(0)->mutable_source()->set_repo_url("ext::sh -c touch% /tmp/x"); },
       "plan.tasks[0].source.repo_url: "},
      {[](auto& r) { r.mutable_plan()->mutable_tasks(0)->mutable_axes(0)->set_value("three"); },
       "plan.tasks[0].axes[0].value: "},
      {[](auto& r) { r.mutable_plan()->mutable_tasks(0)->mutable_axes()->RemoveLast(); },
       "plan.tasks[0].id: "},  // the extra axis is part of the id
      {[](auto& r) { r.mutable_plan()->mutable_tasks(0)->mutable_axes()->DeleteSubrange(0, 1); },
       "plan.tasks[0].axes: no python_version"},
      {[](auto& r) { r.mutable_plan()->mutable_tasks(0)->mutable_env(0)->set_name("BAD NAME"); },
       "plan.tasks[0].env[0].name: "},
      {[](auto& r) { r.mutable_plan()->mutable_tasks(0)->add_required_labels(""); },
       "plan.tasks[0].required_labels[0]: required"},
      {[](auto& r) { r.mutable_plan()->mutable_tasks(0)->mutable_image()->set_dockerfile("FROM x"); },
       "plan.tasks[0].image.dockerfile: goes in the request's dockerfiles"},
      {[](auto& r) { r.mutable_plan()->mutable_tasks(0)->mutable_image()->set_dockerfile_template("{{x}}"); },
       "plan.tasks[0].image.dockerfile_template: not accepted"},
      {[](auto& r) { r.mutable_plan()->mutable_tasks(0)->mutable_image()->set_content_hash(std::string(64, 'a')); },
       "plan.tasks[0].image.content_hash: names no Dockerfile of the request"},
      {[](auto& r) { r.mutable_dockerfiles(0)->set_text("FROM evil"); },
       "dockerfiles[0].content_hash: is not the sha256 of its text"},
      {[](auto& r) { r.clear_dockerfiles(); }, "plan.tasks[0].image.content_hash: names no Dockerfile"},
      {[](auto& r) { r.mutable_plan()->mutable_unsupported()->Add()->set_reason("x"); },
       "plan.unsupported[0].axes: no python_version"},
  };
  for (const Case& c : cases) {
    v1::SubmitBuildRequest request = Submission();
    c.tamper(request);
    EXPECT_THAT(Problem(request), StartsWith(c.problem));
  }
}

TEST(PlanCheckTest, LengthsAreCheckedBeforeAnyPatternSeesTheText) {
  const std::string long_text(100000, 'a');
  v1::SubmitBuildRequest request = Submission();
  request.mutable_plan()->mutable_tasks(0)->mutable_source()->set_repo_url("https://example.com/" + long_text);
  EXPECT_EQ(Problem(request), "plan.tasks[0].source.repo_url: longer than 4096 bytes");
  request = Submission();
  request.mutable_plan()->mutable_tasks(0)->mutable_axes(0)->set_value(long_text);
  EXPECT_EQ(Problem(request), "plan.tasks[0].axes[0].value: longer than 4096 bytes");
  request = Submission();
  request.mutable_plan()->mutable_tasks(0)->set_build_command(std::string(1 << 20, 'x'));
  EXPECT_EQ(Problem(request), "plan.tasks[0].build_command: longer than 65536 bytes");
  request = Submission();
  request.set_config_name(long_text);
  EXPECT_EQ(Problem(request), "config_name: longer than 4096 bytes");
}

TEST(PlanCheckTest, CountsAreBounded) {
  PlanLimits limits;
  limits.max_tasks = 1;
  EXPECT_EQ(Problem(Submission(), limits), "plan.tasks: 2 tasks, more than the 1 a build may have");
  limits = {};
  limits.max_list = 1;
  v1::SubmitBuildRequest request = Submission();
  request.mutable_plan()->mutable_tasks(0)->add_dependencies("ninja");
  request.mutable_plan()->mutable_tasks(0)->add_dependencies("wheel");
  EXPECT_THAT(Problem(request, limits), HasSubstr("more than 1 entries"));
}

v1::Register Registration() {
  v1::Register hello;
  hello.set_agent_id("gpu-host-01.example-3f2a1c");
  v1::AgentCapabilities& caps = *hello.mutable_capabilities();
  caps.set_hostname("gpu-host-01.example.com");
  caps.set_slots(8);
  caps.add_labels("gpu=h100");
  v1::GpuDevice& gpu = *caps.add_gpus();
  gpu.set_name("NVIDIA H100 80GB HBM3");
  gpu.set_uuid("GPU-6987b366-0000-0000-0000-000000000000");
  caps.set_gpu_slots(1);
  hello.add_running()->set_attempt_id("a000000000001");
  return hello;
}

TEST(RegistrationCheckTest, AnAgentAsItDescribesItselfPasses) {
  EXPECT_TRUE(CheckRegistration(Registration()).ok()) << CheckRegistration(Registration());
}

TEST(RegistrationCheckTest, WhatNoAgentIsIsRefusedNamingTheField) {
  struct Case {
    std::function<void(v1::Register&)> tamper;
    std::string problem;
  };
  const std::vector<Case> cases = {
      {[](auto& r) { r.clear_agent_id(); }, "register.agent_id: required"},
      {[](auto& r) { r.set_agent_id(std::string(129, 'a')); }, "register.agent_id: longer than 128 bytes"},
      {[](auto& r) { r.set_agent_id("agent\x1b[2J"); }, "register.agent_id: letters, digits"},
      {[](auto& r) { r.mutable_capabilities()->set_hostname("host\x1b]0;owned\x07"); },
       "register.capabilities.hostname: contains control characters"},
      {[](auto& r) { r.mutable_capabilities()->set_hostname(std::string(300, 'h')); },
       "register.capabilities.hostname: longer than 255 bytes"},
      {[](auto& r) { r.mutable_capabilities()->set_slots(100000); }, "register.capabilities.slots: more than 1024"},
      {[](auto& r) {
         for (int i = 0; i < 65; ++i) r.mutable_capabilities()->add_gpus();
       },
       "register.capabilities.gpus: more than 64"},
      {[](auto& r) { r.mutable_capabilities()->set_gpu_slots(2); }, "register.capabilities.gpu_slots: more than its GPUs"},
      {[](auto& r) { r.mutable_capabilities()->add_labels("bad label"); }, "register.capabilities.labels[1]: "},
      {[](auto& r) { r.mutable_running(0)->set_attempt_id(std::string(100, 'a')); },
       "register.running[0].attempt_id: longer than 64 bytes"},
  };
  for (const Case& c : cases) {
    v1::Register hello = Registration();
    c.tamper(hello);
    absl::Status status = CheckRegistration(hello);
    EXPECT_TRUE(absl::IsInvalidArgument(status)) << c.problem;
    EXPECT_THAT(std::string(status.message()), StartsWith(c.problem));
  }
}

}  // namespace
}  // namespace cwb
