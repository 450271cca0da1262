// Validation of config values that later reach git, pip, apt, a Dockerfile or a container's
// environment. Each check returns nullopt when the value is acceptable and otherwise a message
// saying what is wrong (quoting at most the value's first 60 characters); the accepted forms never
// contain shell metacharacters. Every check bounds the value's length before any pattern sees it,
// and patterns are RE2's, which match in linear time without recursion: no value, however long,
// can exhaust the stack.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace cwb {

using ValidationError = std::optional<std::string>;

// The longest command (build, repair, test) or environment value accepted.
inline constexpr size_t kMaxCommandLength = 64 << 10;

ValidationError ValidatePythonVersion(std::string_view v);   // "3.10", "3.13t"
ValidationError ValidateCudaVersion(std::string_view v);     // "12.1", "11.8.0", "cpu"
ValidationError ValidateTorchVersion(std::string_view v);    // "2.3.0", "2.6.0.dev20241101"
ValidationError ValidateAxisName(std::string_view v);        // "cxx11_abi"
ValidationError ValidateAxisValue(std::string_view v);       // "TRUE", "gcc-12"
ValidationError ValidateProjectName(std::string_view v);     // "flash-attention"
ValidationError ValidateGitRef(std::string_view v);          // "v2.6.3", "main", a commit
ValidationError ValidateRepoUrl(std::string_view v);         // https://, ssh://, git@, file://, /path, ./path
ValidationError ValidateImageRef(std::string_view v);        // "pytorch/pytorch:2.3.0-cuda12.1-cudnn8-devel"
ValidationError ValidateAptPackage(std::string_view v);      // "ninja-build", "gcc-12=12.2.0-14"
ValidationError ValidatePipRequirement(std::string_view v);  // "ninja", "packaging>=23,<25", "einops[torch]"
ValidationError ValidateEnvName(std::string_view v);         // "TORCH_CUDA_ARCH_LIST"
// An environment variable name a build may receive as a secret: never one of cwb's own (CWB_...,
// its tokens).
ValidationError ValidateSecretName(std::string_view v);      // "HF_TOKEN"
ValidationError ValidateEnvValue(std::string_view v);        // any text without NUL or newline
ValidationError ValidateBuildCommand(std::string_view v);    // a shell command (build, repair, test), non-empty, no NUL
ValidationError ValidateLabel(std::string_view v);           // "gpu=h100", "pool/release"
// A PEP 440 local version label as cwb writes it: letters and digits in '.'-separated parts.
ValidationError ValidateLocalVersionLabel(std::string_view v);  // "cu124torch2.5cxx11abiTRUE"
// `platform_tag`: "linux", "manylinux" or "manylinux_2_X" (PEP 600, X from 5 to 99).
ValidationError ValidatePlatformTagSetting(std::string_view v);

// Dispatches on the axis name: the three known axes get their version check, others the generic
// axis-value check.
ValidationError ValidateAxisValueFor(std::string_view axis, std::string_view value);

}  // namespace cwb
