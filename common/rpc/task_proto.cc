#include "common/rpc/task_proto.h"

#include <google/protobuf/util/json_util.h>

#include "absl/strings/str_cat.h"

namespace cwb {

v1::TaskSpec ToProto(const PlannedTask& task) {
  v1::TaskSpec spec;
  spec.set_id(task.id);
  spec.set_project(task.project);
  AppendAxes(task.axes, spec.mutable_axes());
  spec.mutable_source()->set_repo_url(task.repo_url);
  spec.mutable_source()->set_repo_ref(task.repo_ref);
  spec.set_build_command(task.build_command);
  for (const std::string& dep : task.dependencies) spec.add_dependencies(dep);
  for (const EnvEntry& env : task.env) {
    v1::EnvVar* var = spec.add_env();
    var->set_name(env.name);
    var->set_value(env.value);
  }
  for (const std::string& label : task.labels) spec.add_required_labels(label);
  for (const std::string& name : task.secret_env) spec.add_secret_env(name);
  spec.set_local_version(task.local_version);
  spec.set_repair_command(task.repair_command);
  if (task.platform_tag != "linux") spec.set_platform_tag(task.platform_tag);
  spec.set_test_command(task.test_command);
  spec.set_build_needs_gpu(task.build_needs_gpu);
  spec.set_no_compile_cache(!task.compile_cache);
  for (const std::string& dep : task.test_dependencies) spec.add_test_dependencies(dep);
  v1::ImageSpec* image = spec.mutable_image();
  image->set_dockerfile(task.image.dockerfile);
  image->set_base_image(task.recipe.base_image);
  for (const std::string& p : task.recipe.apt_packages) image->add_apt_packages(p);
  for (const std::string& p : task.recipe.pip_packages) image->add_pip_packages(p);
  image->set_content_hash(task.image.content_hash);
  image->set_tag(task.image.tag);
  return spec;
}

v1::BuildPlan ToProto(const BuildPlan& plan) {
  v1::BuildPlan out;
  out.set_config_path(plan.config_path);
  out.set_output_dir(plan.output_dir.string());
  out.set_fail_fast(plan.fail_fast);
  out.set_allow_untested(plan.allow_untested);
  out.set_max_parallel(plan.max_parallel);
  for (const PlannedTask& task : plan.tasks) *out.add_tasks() = ToProto(task);
  for (const UnsupportedTarget& target : plan.unsupported) {
    v1::UnsupportedTarget* unsupported = out.add_unsupported();
    AppendAxes(target.axes, unsupported->mutable_axes());
    unsupported->set_reason(target.reason);
  }
  return out;
}

void AppendAxes(const AxisValues& axes, google::protobuf::RepeatedPtrField<v1::AxisValue>* out) {
  for (const auto& [name, value] : axes) {
    v1::AxisValue* axis = out->Add();
    axis->set_name(name);
    axis->set_value(value);
  }
}

AxisValues AxesFromProto(const google::protobuf::RepeatedPtrField<v1::AxisValue>& axes) {
  AxisValues out;
  for (const v1::AxisValue& axis : axes) out.emplace_back(axis.name(), axis.value());
  return out;
}

AxisValues AxesFromProto(const v1::TaskSpec& task) { return AxesFromProto(task.axes()); }

std::string TaskIdOf(const v1::TaskSpec& spec) {
  PlannedTask task;
  task.project = spec.project();
  task.axes = AxesFromProto(spec);
  task.repo_url = spec.source().repo_url();
  task.repo_ref = spec.source().repo_ref();
  task.build_command = spec.build_command();
  task.dependencies.assign(spec.dependencies().begin(), spec.dependencies().end());
  for (const v1::EnvVar& var : spec.env()) task.env.push_back({var.name(), var.value()});
  task.image.content_hash = spec.image().content_hash();
  task.local_version = spec.local_version();
  task.repair_command = spec.repair_command();
  task.platform_tag = spec.platform_tag().empty() ? "linux" : spec.platform_tag();
  task.test_command = spec.test_command();
  task.test_dependencies.assign(spec.test_dependencies().begin(), spec.test_dependencies().end());
  return TaskId(task);
}

ImageRecipe RecipeFromProto(const v1::TaskSpec& task) {
  const v1::ImageSpec& image = task.image();
  return {image.dockerfile_template(),
          image.template_origin(),
          image.base_image(),
          AxesFromProto(task),
          {image.apt_packages().begin(), image.apt_packages().end()},
          {image.pip_packages().begin(), image.pip_packages().end()}};
}

std::string ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  return json;
}

std::string ToJsonLine(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  return json;
}

absl::Status FromJson(const std::string& json, google::protobuf::Message* message) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto status = google::protobuf::util::JsonStringToMessage(json, message, options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("invalid JSON: ", status.message().as_string()));
  }
  return absl::OkStatus();
}

v1::AgentMessage StatusUpdate(const v1::Assignment& assignment, v1::TaskState state) {
  v1::AgentMessage message;
  v1::TaskStatusUpdate* status = message.mutable_status();
  status->set_build_id(assignment.build_id());
  status->set_task_id(assignment.spec().id());
  status->set_attempt_id(assignment.attempt_id());
  status->set_state(state);
  return message;
}

bool IsCudaCell(const v1::TaskSpec& task) {
  for (const v1::AxisValue& axis : task.axes()) {
    if (axis.name() == kCudaAxis) return axis.value() != kCpuCuda;
  }
  return false;
}

v1::TaskStep FirstStep(const v1::TaskSpec& task) {
  return IsCudaCell(task) && !task.test_command().empty() && !task.build_needs_gpu() ? v1::TASK_STEP_BUILD
                                                                                       : v1::TASK_STEP_WHOLE;
}

v1::TaskStep NextStep(const v1::TaskSpec& task, v1::TaskState state) {
  return state == v1::TASK_STATE_BUILT ? v1::TASK_STEP_TEST : FirstStep(task);
}

bool NeedsGpu(const v1::TaskSpec& task, v1::TaskStep step) {
  if (!IsCudaCell(task)) return false;
  switch (step) {
    case v1::TASK_STEP_TEST: return true;
    case v1::TASK_STEP_BUILD: return task.build_needs_gpu();
    default: return task.build_needs_gpu() || !task.test_command().empty();
  }
}

const char* StepName(v1::TaskStep step) {
  switch (step) {
    case v1::TASK_STEP_BUILD: return "build";
    case v1::TASK_STEP_TEST: return "test";
    default: return "build and test";
  }
}

}  // namespace cwb
