// libFuzzer target for the coordinator's request checks (coordinator/request_checks.h): whatever
// bytes a hostile client or agent sends as a SubmitBuild request or a registration, the checks
// answer OK or INVALID_ARGUMENT with a message naming the field; nothing crashes, hangs or reads
// out of bounds (ASan and UBSan). The first byte picks the message. The rest is merged onto a
// valid message (a real plan of a small matrix, a real agent's registration), so mutations reach
// the checks of every field rather than stopping at the first parse of random bytes; bytes that
// are not a message are refused by protobuf, as the server's parse would.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/config/builtin_template.h"
#include "common/config/config_parser.h"
#include "common/config/planner.h"
#include "common/rpc/submission.h"
#include "coordinator/request_checks.h"

namespace {

constexpr char kConfig[] = R"(build_matrix:
  python_version: [3.11, 3.12]
  cuda_version: [cpu, 12.1]
  pytorch_version: [2.4.0]
  variant: [a]
env: {MAX_JOBS: 4}
local_version: true
projects:
  - name: flash-attention
    repo_url: https://github.com/Dao-AILab/flash-attention.git
    repo_ref: v2.6.3
    build_command: python setup.py bdist_wheel --dist-dir "$CWB_OUT"
    dependencies: [ninja, packaging]
    env: {TORCH_CUDA_ARCH_LIST: "8.0;9.0"}
    secret_env: [HF_TOKEN]
    test_command: python -c "import flash_attn"
  - name: pure
    repo_url: /srv/git/pure.git
    repair_command: auditwheel repair "$CWB_WHEEL" -w "$CWB_REPAIR_DIR"
pytorch_base_images:
  "2.4.0": {cpu: "localhost/cwb-base:bookworm", "12.1": "pytorch/pytorch:2.4.0-cuda12.1-cudnn9-devel"}
apt_packages: [git, ninja-build]
pip_packages: [wheel]
)";

const cwb::v1::SubmitBuildRequest& ValidSubmission() {
  static const cwb::v1::SubmitBuildRequest* request = [] {
    cwb::Diagnostics diagnostics;
    std::optional<cwb::Config> config = cwb::ParseConfig(kConfig, "fuzz.yaml", diagnostics);
    if (!config) std::abort();
    config->dockerfile_template = std::string(cwb::BuiltinDockerfileTemplate());
    config->template_origin = "builtin";
    std::optional<cwb::BuildPlan> plan = cwb::PlanBuild(*config, diagnostics);
    if (!plan) std::abort();
    auto* made = new cwb::v1::SubmitBuildRequest(cwb::MakeSubmission(*plan, "fuzz.yaml", false));
    if (!cwb::CheckSubmission(*made).ok()) std::abort();  // the base must pass, or nothing is fuzzed
    return made;
  }();
  return *request;
}

cwb::v1::Register ValidRegistration() {
  cwb::v1::Register hello;
  hello.set_agent_id("gpu-host-1");
  cwb::v1::AgentCapabilities* caps = hello.mutable_capabilities();
  caps->set_hostname("gpu-host-1.example");
  caps->add_labels("rack=a1");
  caps->set_slots(4);
  for (int i = 0; i < 2; ++i) {
    cwb::v1::GpuDevice* gpu = caps->add_gpus();
    gpu->set_index(i);
    gpu->set_name("NVIDIA H100 80GB HBM3");
  }
  caps->set_driver_version("580.159.04");
  caps->set_driver_cuda_version("13.0");
  caps->set_version("0.1.0");
  caps->set_gpu_slots(2);
  caps->set_runtime("podman");
  return hello;
}

// A refusal says where: INVALID_ARGUMENT with a message.
void ExpectOkOrNamedRefusal(const absl::Status& status) {
  if (status.ok()) return;
  if (status.code() != absl::StatusCode::kInvalidArgument || status.message().empty()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  (void)ValidSubmission();
  if (!cwb::CheckRegistration(ValidRegistration()).ok()) std::abort();  // likewise
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0) {
    cwb::v1::SubmitBuildRequest request = ValidSubmission();
    if (!request.MergeFromString(std::string(bytes))) return 0;
    ExpectOkOrNamedRefusal(cwb::CheckSubmission(request));
  } else {
    cwb::v1::Register hello = ValidRegistration();
    if (!hello.MergeFromString(std::string(bytes))) return 0;
    ExpectOkOrNamedRefusal(cwb::CheckRegistration(hello));
  }
  return 0;
}
