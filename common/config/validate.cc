#include "common/config/validate.h"

#include <re2/re2.h>

#include "absl/strings/str_cat.h"
#include "common/config/axes.h"

namespace cwb {
namespace {

// A value as messages quote it: at most 60 characters of it.
std::string Quoted(std::string_view value) {
  constexpr size_t kShown = 60;
  if (value.size() <= kShown) return absl::StrCat("'", std::string(value), "'");
  return absl::StrCat("'", std::string(value.substr(0, kShown)), "...' (", value.size(), " characters)");
}

// Whether `value`, at most `max_length` long, is all of `pattern`. The length is checked first,
// and RE2 matches in time linear in the text without recursion, so no value can exhaust the stack.
ValidationError Match(std::string_view value, const RE2& pattern, std::string_view what, std::string_view example,
                      size_t max_length) {
  if (value.size() > max_length) {
    return absl::StrCat(Quoted(value), " is not a valid ", std::string(what), ": longer than ", max_length,
                        " characters");
  }
  if (RE2::FullMatch(re2::StringPiece(value.data(), value.size()), pattern)) return std::nullopt;
  return absl::StrCat(Quoted(value), " is not a valid ", std::string(what), " (expected something like ",
                      std::string(example), ")");
}

bool HasControl(std::string_view v) {
  for (unsigned char c : v) {
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}

}  // namespace

ValidationError ValidatePythonVersion(std::string_view v) {
  static const RE2 kPattern(R"([0-9]+\.[0-9]+t?)");
  return Match(v, kPattern, "python version", "3.10", 16);
}

ValidationError ValidateCudaVersion(std::string_view v) {
  static const RE2 kPattern(R"(cpu|[0-9]+\.[0-9]+(\.[0-9]+)?)");
  return Match(v, kPattern, "cuda version", "12.1 or cpu", 16);
}

ValidationError ValidateTorchVersion(std::string_view v) {
  static const RE2 kPattern(R"([0-9]+\.[0-9]+(\.[0-9]+)?((a|b|rc|\.dev|\.post)[0-9]+)*)");
  return Match(v, kPattern, "pytorch version", "2.3.0", 64);
}

ValidationError ValidateAxisName(std::string_view v) {
  static const RE2 kPattern(R"([a-z][a-z0-9_]{0,63})");
  return Match(v, kPattern, "axis name", "cxx11_abi", 64);
}

ValidationError ValidateAxisValue(std::string_view v) {
  static const RE2 kPattern(R"([A-Za-z0-9][A-Za-z0-9._+-]{0,63})");
  return Match(v, kPattern, "axis value", "TRUE", 64);
}

ValidationError ValidateProjectName(std::string_view v) {
  static const RE2 kPattern(R"([A-Za-z0-9][A-Za-z0-9._-]{0,99})");
  return Match(v, kPattern, "project name", "flash-attention (letters, digits, '.', '_', '-')", 100);
}

ValidationError ValidateGitRef(std::string_view v) {
  static const RE2 kPattern(R"([A-Za-z0-9_][A-Za-z0-9._/+-]{0,199})");
  if (auto error = Match(v, kPattern, "git ref", "v2.6.3, main or a commit id", 200)) return error;
  if (v.find("..") != v.npos || v.find("//") != v.npos || v.ends_with("/") || v.ends_with(".lock") ||
      v.ends_with(".")) {
    return absl::StrCat(Quoted(v), " is not a valid git ref");
  }
  return std::nullopt;
}

ValidationError ValidateRepoUrl(std::string_view v) {
  constexpr size_t kMaxLength = 2048;
  if (v.empty()) return "repo_url is empty";
  if (v.size() > kMaxLength) {
    return absl::StrCat(Quoted(v), " is not a valid repository URL: longer than ", kMaxLength, " characters");
  }
  if (HasControl(v) || v.find(' ') != v.npos) return absl::StrCat(Quoted(v), " contains whitespace or control characters");
  if (v.front() == '-') return absl::StrCat(Quoted(v), " must not start with '-'");
  // git's ext:: and fd:: transports run commands or use descriptors; never accept them.
  if (v.starts_with("ext::") || v.starts_with("fd::")) return absl::StrCat(Quoted(v), " uses a git transport that runs commands");
  static const RE2 kPattern(
      R"(((https?|ssh|git|file)://[A-Za-z0-9._~:/?#@!+,=%-]+)|([A-Za-z0-9._-]+@[A-Za-z0-9._-]+:[A-Za-z0-9._~/-]+)|(\.{1,2}/[A-Za-z0-9._~/+-]*)|(/[A-Za-z0-9._~/+-]*))");
  return Match(v, kPattern, "repository URL",
               "https://github.com/org/repo.git, git@host:org/repo.git, /abs/path or ./rel/path", kMaxLength);
}

ValidationError ValidateImageRef(std::string_view v) {
  static const RE2 kPattern(R"([A-Za-z0-9][A-Za-z0-9._/:@-]{0,255})");
  return Match(v, kPattern, "image reference", "pytorch/pytorch:2.3.0-cuda12.1-cudnn8-devel", 256);
}

ValidationError ValidateAptPackage(std::string_view v) {
  static const RE2 kPattern(R"([a-z0-9][a-z0-9+.-]+(=[A-Za-z0-9.+:~-]+)?)");
  return Match(v, kPattern, "apt package", "ninja-build or gcc-12=12.2.0-14", 256);
}

ValidationError ValidatePipRequirement(std::string_view v) {
  static const RE2 kPattern(
      R"([A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?(\[[A-Za-z0-9._-]+(,[A-Za-z0-9._-]+)*\])?( *(===|==|~=|!=|>=|<=|<|>) *[A-Za-z0-9.*+!_-]+( *, *(===|==|~=|!=|>=|<=|<|>) *[A-Za-z0-9.*+!_-]+)*)?)");
  return Match(v, kPattern, "pip requirement", "packaging>=23 or einops[torch]==0.8.0", 512);
}

ValidationError ValidateEnvName(std::string_view v) {
  static const RE2 kPattern(R"([A-Za-z_][A-Za-z0-9_]{0,127})");
  return Match(v, kPattern, "environment variable name", "TORCH_CUDA_ARCH_LIST", 128);
}

ValidationError ValidateSecretName(std::string_view v) {
  if (ValidationError error = ValidateEnvName(v)) return error;
  if (v.starts_with("CWB_")) return absl::StrCat(Quoted(v), " is cwb's own (names beginning CWB_ hold its tokens); never a build's secret");
  return std::nullopt;
}

ValidationError ValidateEnvValue(std::string_view v) {
  if (v.size() > kMaxCommandLength) return absl::StrCat("environment values are at most ", kMaxCommandLength, " characters");
  if (HasControl(v)) return "environment values must not contain control characters or newlines";
  return std::nullopt;
}

ValidationError ValidateBuildCommand(std::string_view v) {
  if (v.size() > kMaxCommandLength) return absl::StrCat("the command is longer than ", kMaxCommandLength, " characters");
  if (v.find_first_not_of(" \t\n") == std::string_view::npos) return "the command is empty";
  if (v.find('\0') != std::string_view::npos) return "the command contains a NUL byte";
  return std::nullopt;
}

ValidationError ValidateLabel(std::string_view v) {
  static const RE2 kPattern(R"([A-Za-z0-9][A-Za-z0-9._=/-]{0,62})");
  return Match(v, kPattern, "label", "gpu=h100", 63);
}

ValidationError ValidateLocalVersionLabel(std::string_view v) {
  static const RE2 kPattern(R"([A-Za-z0-9]+(\.[A-Za-z0-9]+)*)");
  if (v.size() > 100) return absl::StrCat("local version label ", Quoted(v), " is longer than 100 characters");
  return Match(v, kPattern, "local version label", "cu124torch2.5 (letters, digits and '.')", 100);
}

ValidationError ValidatePlatformTagSetting(std::string_view v) {
  static const RE2 kPattern(R"(linux|manylinux|manylinux_2_([5-9]|[1-9][0-9]))");
  return Match(v, kPattern, "platform_tag", "linux, manylinux or manylinux_2_28", 40);
}

ValidationError ValidateAxisValueFor(std::string_view axis, std::string_view value) {
  if (axis == kPythonAxis) return ValidatePythonVersion(value);
  if (axis == kCudaAxis) return ValidateCudaVersion(value);
  if (axis == kTorchAxis) return ValidateTorchVersion(value);
  return ValidateAxisValue(value);
}

}  // namespace cwb
