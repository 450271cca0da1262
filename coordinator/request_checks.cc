#include "coordinator/request_checks.h"

#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/base/digest.h"
#include "common/config/axes.h"
#include "common/config/validate.h"
#include "common/rpc/task_proto.h"
#include "re2/re2.h"

namespace cwb {
namespace {

// Collects the first problem of a plan, each named by its path in the plan.
class PlanChecker {
 public:
  explicit PlanChecker(const PlanLimits& limits) : limits_(limits) {}

  // The request's Dockerfiles, each checked against its hash.
  void Dockerfiles(const google::protobuf::RepeatedPtrField<v1::RenderedDockerfile>& dockerfiles) {
    if (!ListFits("dockerfiles", dockerfiles.size())) return;
    for (int i = 0; i < dockerfiles.size() && !failed(); ++i) {
      const std::string where = absl::StrCat("dockerfiles[", i, "]");
      Text(where + ".text", dockerfiles[i].text(), limits_.max_dockerfile, true);
      Text(where + ".content_hash", dockerfiles[i].content_hash(), 64, true);
      if (!failed() && Sha256Hex(dockerfiles[i].text()) != dockerfiles[i].content_hash()) {
        Fail(where + ".content_hash", "is not the sha256 of its text");
      }
      hashes_.insert(dockerfiles[i].content_hash());
    }
  }

  bool failed() const { return !problem_.empty(); }
  absl::Status status() const { return failed() ? absl::InvalidArgumentError(problem_) : absl::OkStatus(); }

  void Fail(const std::string& where, std::string_view what) {
    if (!failed()) problem_ = absl::StrCat(where, ": ", std::string(what));
  }
  // `value` is at most `max` bytes, then passes `check` (when given); `required`: non-empty.
  template <typename Check>
  void Text(const std::string& where, const std::string& value, size_t max, bool required, Check check) {
    if (failed()) return;
    if (value.empty()) {
      if (required) Fail(where, "required");
      return;
    }
    if (value.size() > max) return Fail(where, absl::StrCat("longer than ", max, " bytes"));
    if (ValidationError error = check(value)) Fail(where, *error);
  }
  void Text(const std::string& where, const std::string& value, size_t max, bool required) {
    Text(where, value, max, required, [](std::string_view) { return ValidationError(); });
  }
  // At most max_list entries; else the failure, and false.
  bool ListFits(const std::string& where, int size) {
    if (static_cast<size_t>(size) <= limits_.max_list) return true;
    Fail(where, absl::StrCat("more than ", limits_.max_list, " entries"));
    return false;
  }
  // A list of at most max_list entries, each a Text.
  template <typename List, typename Check>
  void Each(const std::string& where, const List& list, size_t max, Check check) {
    if (failed() || !ListFits(where, list.size())) return;
    for (int i = 0; i < list.size(); ++i) Text(absl::StrCat(where, "[", i, "]"), list[i], max, true, check);
  }

  void Axes(const std::string& where, const google::protobuf::RepeatedPtrField<v1::AxisValue>& axes) {
    if (!ListFits(where, axes.size())) return;
    std::set<std::string> names;
    for (int i = 0; i < axes.size() && !failed(); ++i) {
      const std::string at = absl::StrCat(where, "[", i, "]");
      Text(at + ".name", axes[i].name(), limits_.max_text, true, ValidateAxisName);
      Text(at + ".value", axes[i].value(), limits_.max_text, true,
           [&](std::string_view value) { return ValidateAxisValueFor(axes[i].name(), value); });
      if (!names.insert(axes[i].name()).second) Fail(at + ".name", absl::StrCat("'", axes[i].name(), "' twice"));
    }
    for (std::string_view required : kRequiredAxes) {
      if (!names.count(std::string(required))) Fail(where, "no " + std::string(required));
    }
  }

  void Task(const std::string& where, const v1::TaskSpec& spec) {
    const size_t text = limits_.max_text, command = limits_.max_command;
    Text(where + ".project", spec.project(), text, true, ValidateProjectName);
    Axes(where + ".axes", spec.axes());
    Text(where + ".source.repo_url", spec.source().repo_url(), text, true, [](std::string_view url) {
      if (url.starts_with("./") || url.starts_with("../")) {
        return ValidationError("a relative path (the client resolves it against its config's directory)");
      }
      return ValidateRepoUrl(url);
    });
    Text(where + ".source.repo_ref", spec.source().repo_ref(), text, false, ValidateGitRef);
    Text(where + ".build_command", spec.build_command(), command, false, ValidateBuildCommand);
    Each(where + ".dependencies", spec.dependencies(), text, ValidatePipRequirement);
    ListFits(where + ".env", spec.env_size());
    for (int i = 0; i < spec.env_size() && !failed(); ++i) {
      const std::string at = absl::StrCat(where, ".env[", i, "]");
      Text(at + ".name", spec.env(i).name(), text, true, ValidateEnvName);
      Text(at + ".value", spec.env(i).value(), command, false, ValidateEnvValue);
    }
    Each(where + ".required_labels", spec.required_labels(), text, ValidateLabel);
    Each(where + ".secret_env", spec.secret_env(), text, ValidateSecretName);
    Text(where + ".local_version", spec.local_version(), text, false, ValidateLocalVersionLabel);
    Text(where + ".repair_command", spec.repair_command(), command, false, ValidateBuildCommand);
    Text(where + ".platform_tag", spec.platform_tag(), text, false, ValidatePlatformTagSetting);
    Text(where + ".test_command", spec.test_command(), command, false, ValidateBuildCommand);
    Each(where + ".test_dependencies", spec.test_dependencies(), text, ValidatePipRequirement);
    Image(where + ".image", spec.image());
    if (failed()) return;
    if (const std::string id = TaskIdOf(spec); spec.id() != id) {
      Fail(where + ".id", absl::StrCat("'", spec.id(), "' does not match the spec (its id is ", id, ")"));
    }
  }

  void Image(const std::string& where, const v1::ImageSpec& image) {
    if (!image.dockerfile_template().empty()) {
      return Fail(where + ".dockerfile_template", "not accepted: the client renders the Dockerfile");
    }
    if (!image.dockerfile().empty()) return Fail(where + ".dockerfile", "goes in the request's dockerfiles");
    Text(where + ".base_image", image.base_image(), limits_.max_text, true, ValidateImageRef);
    Each(where + ".apt_packages", image.apt_packages(), limits_.max_text, ValidateAptPackage);
    Each(where + ".pip_packages", image.pip_packages(), limits_.max_text, ValidatePipRequirement);
    Text(where + ".tag", image.tag(), limits_.max_text, true, ValidateImageRef);
    Text(where + ".content_hash", image.content_hash(), 64, true);
    if (!failed() && !hashes_.count(image.content_hash())) {
      Fail(where + ".content_hash", absl::StrCat("names no Dockerfile of the request (", image.content_hash(), ")"));
    }
  }

  const PlanLimits& limits() const { return limits_; }

 private:
  const PlanLimits& limits_;
  std::set<std::string> hashes_;  // of the request's Dockerfiles
  std::string problem_;
};

// What an agent says of itself.
constexpr size_t kMaxAgentIdLength = 128, kMaxSlots = 1024, kMaxGpus = 64, kMaxLabels = 64, kMaxRunning = 4096;

}  // namespace

absl::Status CheckRegistration(const v1::Register& hello) {
  PlanLimits limits;
  limits.max_list = kMaxLabels;
  PlanChecker check(limits);
  static const RE2 kAgentId("[A-Za-z0-9][A-Za-z0-9._-]*");
  check.Text("register.agent_id", hello.agent_id(), kMaxAgentIdLength, true, [](std::string_view id) {
    return RE2::FullMatch(re2::StringPiece(id.data(), id.size()), kAgentId)
               ? ValidationError()
               : ValidationError("letters, digits, '.', '_' and '-' only");
  });
  const v1::AgentCapabilities& caps = hello.capabilities();
  for (auto [field, value] : {std::pair{"hostname", &caps.hostname()}, {"driver_version", &caps.driver_version()},
                              {"driver_cuda_version", &caps.driver_cuda_version()}, {"version", &caps.version()},
                              {"runtime", &caps.runtime()}, {"host_toolchain.python", &caps.host_toolchain().python()},
                              {"host_toolchain.python_version", &caps.host_toolchain().python_version()},
                              {"host_toolchain.torch_version", &caps.host_toolchain().torch_version()},
                              {"host_toolchain.torch_cuda_version", &caps.host_toolchain().torch_cuda_version()}}) {
    check.Text(absl::StrCat("register.capabilities.", field), *value, 255, false, [](std::string_view text) {
      for (unsigned char c : text) {
        if (c < 0x20 || c == 0x7f) return ValidationError("contains control characters");
      }
      return ValidationError();
    });
  }
  check.Each("register.capabilities.labels", caps.labels(), 63, ValidateLabel);
  if (caps.slots() > kMaxSlots) check.Fail("register.capabilities.slots", absl::StrCat("more than ", kMaxSlots));
  if (static_cast<size_t>(caps.gpus_size()) > kMaxGpus) {
    check.Fail("register.capabilities.gpus", absl::StrCat("more than ", kMaxGpus));
  }
  if (caps.gpu_slots() > static_cast<uint32_t>(caps.gpus_size())) {
    check.Fail("register.capabilities.gpu_slots", "more than its GPUs");
  }
  for (int i = 0; i < caps.gpus_size() && !check.failed(); ++i) {
    const std::string at = absl::StrCat("register.capabilities.gpus[", i, "]");
    check.Text(at + ".name", caps.gpus(i).name(), 255, false);
    check.Text(at + ".uuid", caps.gpus(i).uuid(), 128, false);
    check.Text(at + ".compute_capability", caps.gpus(i).compute_capability(), 16, false);
  }
  if (static_cast<size_t>(hello.running_size()) > kMaxRunning) {
    check.Fail("register.running", absl::StrCat("more than ", kMaxRunning, " attempts"));
  }
  for (int i = 0; i < hello.running_size() && !check.failed(); ++i) {
    const std::string at = absl::StrCat("register.running[", i, "]");
    check.Text(at + ".attempt_id", hello.running(i).attempt_id(), 64, true);
    check.Text(at + ".build_id", hello.running(i).build_id(), 64, false);
    check.Text(at + ".task_id", hello.running(i).task_id(), 64, false);
  }
  return check.status();
}

absl::Status CheckSubmission(const v1::SubmitBuildRequest& request, const PlanLimits& limits) {
  PlanChecker check(limits);
  const v1::BuildPlan& plan = request.plan();
  check.Text("config_name", request.config_name(), limits.max_text, false);
  check.Dockerfiles(request.dockerfiles());
  if (plan.tasks().empty()) check.Fail("plan.tasks", "a build needs at least one task");
  if (static_cast<size_t>(plan.tasks_size()) > limits.max_tasks) {
    check.Fail("plan.tasks",
               absl::StrCat(plan.tasks_size(), " tasks, more than the ", limits.max_tasks, " a build may have"));
  }
  if (static_cast<size_t>(plan.unsupported_size()) > limits.max_tasks) {
    check.Fail("plan.unsupported", absl::StrCat("more than ", limits.max_tasks, " entries"));
  }
  std::set<std::string> ids;
  for (int i = 0; i < plan.tasks_size() && !check.failed(); ++i) {
    const std::string where = absl::StrCat("plan.tasks[", i, "]");
    check.Task(where, plan.tasks(i));
    if (!check.failed() && !ids.insert(plan.tasks(i).id()).second) {
      check.Fail(where + ".id", absl::StrCat("'", plan.tasks(i).id(), "' twice"));
    }
  }
  for (int i = 0; i < plan.unsupported_size() && !check.failed(); ++i) {
    const std::string where = absl::StrCat("plan.unsupported[", i, "]");
    check.Axes(where + ".axes", plan.unsupported(i).axes());
    check.Text(where + ".reason", plan.unsupported(i).reason(), limits.max_text, true);
  }
  return check.status();
}

}  // namespace cwb
