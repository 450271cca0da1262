#include "agent/image_check.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/config/axes.h"

namespace cwb {
namespace {

// Whether `version` ("2.4.0+cu121") is `wanted` ("2.4" or "2.4.0") on the components `wanted`
// gives, the local label aside.
bool SameVersion(std::string_view version, std::string_view wanted) {
  version = version.substr(0, version.find('+'));
  const std::vector<std::string> have = absl::StrSplit(std::string(version), '.');
  const std::vector<std::string> want = absl::StrSplit(std::string(wanted), '.');
  if (want.size() > have.size()) return false;
  for (size_t i = 0; i < want.size(); ++i) {
    if (have[i] != want[i]) return false;
  }
  return true;
}

std::string AxisValue(const v1::TaskSpec& spec, std::string_view name) {
  for (const v1::AxisValue& axis : spec.axes()) {
    if (axis.name() == name) return axis.value();
  }
  return "";
}

}  // namespace

absl::StatusOr<ImageFacts> ParseImageFacts(std::string_view text) {
  ImageFacts facts;
  bool has_python = false;
  const std::vector<std::string> lines = absl::StrSplit(std::string(text), '\n');
  for (const std::string& line : lines) {
    const size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    const std::string key = line.substr(0, eq);
    std::string value = line.substr(eq + 1);
    if (key == "python") {
      facts.python = std::move(value);
      has_python = true;
    } else if (key == "executable") {
      facts.executable = std::move(value);
    } else if (key == "torch") {
      facts.torch = std::move(value);
    } else if (key == "torch_cuda") {
      facts.torch_cuda = value == "None" ? "" : std::move(value);
    } else if (key == "torch_error") {
      facts.torch_error = std::move(value);
    }
  }
  if (!has_python) {
    return absl::InvalidArgumentError(absl::StrCat("the image's facts name no python: '", std::string(text.substr(0, 200)), "'"));
  }
  return facts;
}

absl::StatusOr<std::string> CheckImageAgainstCell(const ImageFacts& facts, const v1::TaskSpec& spec) {
  const std::string python = AxisValue(spec, kPythonAxis);
  const std::string cuda = AxisValue(spec, kCudaAxis);
  const std::string torch = AxisValue(spec, kTorchAxis);
  const std::string interpreter = facts.executable.empty() ? "" : absl::StrCat(" (", facts.executable, ")");
  if (facts.python.empty()) {
    return absl::FailedPreconditionError(absl::StrCat("the image has no Python; the cell asks for Python ", python));
  }
  if (!python.empty() && !SameVersion(facts.python, python)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the image gives Python ", facts.python, interpreter, " but the cell asks for Python ", python,
        ": use an image of that Python for it in pytorch_base_images"));
  }
  std::string said = absl::StrCat("Python ", facts.python, interpreter);
  if (!facts.torch_error.empty()) {
    return absl::FailedPreconditionError(absl::StrCat("the image's torch does not import: ", facts.torch_error));
  }
  if (facts.torch.empty()) {
    return absl::StrCat(said, ", no torch: the build brings what it needs (torch ", torch, " is not checked)");
  }
  const std::string torch_cuda = facts.torch_cuda.empty() ? "cpu" : facts.torch_cuda;
  if (!torch.empty() && !SameVersion(facts.torch, torch)) {
    return absl::FailedPreconditionError(absl::StrCat("the image gives torch ", facts.torch,
                                                      " but the cell asks for PyTorch ", torch));
  }
  const bool cuda_matches = cuda.empty() || (cuda == kCpuCuda ? facts.torch_cuda.empty()
                                                           : !facts.torch_cuda.empty() && SameVersion(facts.torch_cuda, cuda));
  if (!cuda_matches) {
    return absl::FailedPreconditionError(absl::StrCat("the image's torch ", facts.torch, " is built for ",
                                                      torch_cuda == "cpu" ? "no CUDA (CPU only)" : "CUDA " + torch_cuda,
                                                      " but the cell asks for ", cuda == kCpuCuda ? "cpu" : "CUDA " + cuda));
  }
  return absl::StrCat(said, ", torch ", facts.torch, facts.torch_cuda.empty() ? " (CPU)" : " for CUDA " + facts.torch_cuda);
}

}  // namespace cwb
