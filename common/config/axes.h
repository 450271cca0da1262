// The matrix's axis names and the ordered list of (axis, value) pairs that identifies a target.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cwb {

inline constexpr std::string_view kPythonAxis = "python_version";
inline constexpr std::string_view kCudaAxis = "cuda_version";
inline constexpr std::string_view kTorchAxis = "pytorch_version";
// The three axes every target has, in display order.
inline constexpr std::array<std::string_view, 3> kRequiredAxes = {kPythonAxis, kCudaAxis,
                                                                  kTorchAxis};
// The `cuda_version` value of CPU-only variants.
inline constexpr std::string_view kCpuCuda = "cpu";

// (axis, value) pairs in axis order: the three required axes first, then extra axes in the order
// the config declares them.
using AxisValues = std::vector<std::pair<std::string, std::string>>;

// Whether `axis` is one of kRequiredAxes (not an extra axis).
bool IsRequiredAxis(std::string_view axis);

// Adds the extra axes of `values` that `names` lacks, in their order: what tables show as columns
// after the three required ones, in first-seen order.
void AddExtraAxisNames(const AxisValues& values, std::vector<std::string>& names);

// The value of `axis`, or nullopt when the target does not have that axis.
std::optional<std::string> FindAxis(const AxisValues& values, std::string_view axis);
// The value of an axis the target must have (one of kRequiredAxes); "" if absent.
const std::string& AxisOrEmpty(const AxisValues& values, std::string_view axis);

// "python_version=3.10 cuda_version=12.1 pytorch_version=2.3.0"
std::string FormatAxes(const AxisValues& values);

}  // namespace cwb
