#include "common/config/validate.h"

#include <regex>

#include "absl/strings/str_cat.h"
#include "common/config/axes.h"

namespace cwb {
namespace {

ValidationError Match(std::string_view value, const std::regex& pattern, std::string_view what,
                      std::string_view example) {
  if (std::regex_match(value.begin(), value.end(), pattern)) return std::nullopt;
  return absl::StrCat("'", std::string(value), "' is not a valid ", std::string(what),
                      " (expected something like ", std::string(example), ")");
}

bool HasControl(std::string_view v) {
  for (unsigned char c : v) {
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}

}  // namespace

ValidationError ValidatePythonVersion(std::string_view v) {
  static const std::regex kPattern(R"([0-9]+\.[0-9]+t?)");
  return Match(v, kPattern, "python version", "3.10");
}

ValidationError ValidateCudaVersion(std::string_view v) {
  static const std::regex kPattern(R"(cpu|[0-9]+\.[0-9]+(\.[0-9]+)?)");
  return Match(v, kPattern, "cuda version", "12.1 or cpu");
}

ValidationError ValidateTorchVersion(std::string_view v) {
  static const std::regex kPattern(R"([0-9]+\.[0-9]+(\.[0-9]+)?((a|b|rc|\.dev|\.post)[0-9]+)*)");
  return Match(v, kPattern, "pytorch version", "2.3.0");
}

ValidationError ValidateAxisName(std::string_view v) {
  static const std::regex kPattern(R"([a-z][a-z0-9_]{0,63})");
  return Match(v, kPattern, "axis name", "cxx11_abi");
}

ValidationError ValidateAxisValue(std::string_view v) {
  static const std::regex kPattern(R"([A-Za-z0-9][A-Za-z0-9._+-]{0,63})");
  return Match(v, kPattern, "axis value", "TRUE");
}

ValidationError ValidateProjectName(std::string_view v) {
  static const std::regex kPattern(R"([A-Za-z0-9][A-Za-z0-9._-]{0,99})");
  return Match(v, kPattern, "project name", "flash-attention (letters, digits, '.', '_', '-')");
}

ValidationError ValidateGitRef(std::string_view v) {
  static const std::regex kPattern(R"([A-Za-z0-9_][A-Za-z0-9._/+-]{0,199})");
  if (auto error = Match(v, kPattern, "git ref", "v2.6.3, main or a commit id")) return error;
  if (v.find("..") != v.npos || v.find("//") != v.npos || v.ends_with("/") ||
      v.ends_with(".lock") || v.ends_with(".")) {
    return absl::StrCat("'", std::string(v), "' is not a valid git ref");
  }
  return std::nullopt;
}

ValidationError ValidateRepoUrl(std::string_view v) {
  if (v.empty()) return "repo_url is empty";
  const std::string value(v);
  if (HasControl(v) || v.find(' ') != v.npos) {
    return absl::StrCat("'", value, "' contains whitespace or control characters");
  }
  if (v.front() == '-') return absl::StrCat("'", value, "' must not start with '-'");
  // git's ext:: and fd:: transports run commands or use descriptors; never accept them.
  if (v.starts_with("ext::") || v.starts_with("fd::")) {
    return absl::StrCat("'", value, "' uses a git transport that runs commands");
  }
  static const std::regex kPattern(
      R"(((https?|ssh|git|file)://[A-Za-z0-9._~:/?#@!+,=%-]+)|([A-Za-z0-9._-]+@[A-Za-z0-9._-]+:[A-Za-z0-9._~/-]+)|(\.{1,2}/[A-Za-z0-9._~/+-]*)|(/[A-Za-z0-9._~/+-]*))");
  return Match(v, kPattern, "repository URL",
               "https://github.com/org/repo.git, git@host:org/repo.git, /abs/path or ./rel/path");
}

ValidationError ValidateImageRef(std::string_view v) {
  static const std::regex kPattern(R"([A-Za-z0-9][A-Za-z0-9._/:@-]{0,255})");
  return Match(v, kPattern, "image reference", "pytorch/pytorch:2.3.0-cuda12.1-cudnn8-devel");
}

ValidationError ValidateAptPackage(std::string_view v) {
  static const std::regex kPattern(R"([a-z0-9][a-z0-9+.-]+(=[A-Za-z0-9.+:~-]+)?)");
  return Match(v, kPattern, "apt package", "ninja-build or gcc-12=12.2.0-14");
}

ValidationError ValidatePipRequirement(std::string_view v) {
  static const std::regex kPattern(
      R"([A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?(\[[A-Za-z0-9._-]+(,[A-Za-z0-9._-]+)*\])?( *(===|==|~=|!=|>=|<=|<|>) *[A-Za-z0-9.*+!_-]+( *, *(===|==|~=|!=|>=|<=|<|>) *[A-Za-z0-9.*+!_-]+)*)?)");
  return Match(v, kPattern, "pip requirement", "packaging>=23 or einops[torch]==0.8.0");
}

ValidationError ValidateEnvName(std::string_view v) {
  static const std::regex kPattern(R"([A-Za-z_][A-Za-z0-9_]{0,127})");
  return Match(v, kPattern, "environment variable name", "TORCH_CUDA_ARCH_LIST");
}

ValidationError ValidateEnvValue(std::string_view v) {
  if (HasControl(v)) return "environment values must not contain control characters or newlines";
  return std::nullopt;
}

ValidationError ValidateBuildCommand(std::string_view v) {
  if (v.find_first_not_of(" \t\n") == std::string_view::npos) return "the command is empty";
  if (v.find('\0') != std::string_view::npos) return "the command contains a NUL byte";
  return std::nullopt;
}

ValidationError ValidateLabel(std::string_view v) {
  static const std::regex kPattern(R"([A-Za-z0-9][A-Za-z0-9._=/-]{0,62})");
  return Match(v, kPattern, "label", "gpu=h100");
}

ValidationError ValidateLocalVersionLabel(std::string_view v) {
  static const std::regex kPattern(R"([A-Za-z0-9]+(\.[A-Za-z0-9]+)*)");
  if (v.size() > 100) return absl::StrCat("local version label '", std::string(v), "' is longer than 100 characters");
  return Match(v, kPattern, "local version label", "cu124torch2.5 (letters, digits and '.')");
}

ValidationError ValidateAxisValueFor(std::string_view axis, std::string_view value) {
  if (axis == kPythonAxis) return ValidatePythonVersion(value);
  if (axis == kCudaAxis) return ValidateCudaVersion(value);
  if (axis == kTorchAxis) return ValidateTorchVersion(value);
  return ValidateAxisValue(value);
}

}  // namespace cwb
