#include "common/axes.h"

#include "absl/strings/str_join.h"

namespace cwb {

std::optional<std::string> FindAxis(const AxisValues& values, std::string_view axis) {
  for (const auto& [name, value] : values) {
    if (name == axis) return value;
  }
  return std::nullopt;
}

const std::string& AxisOrEmpty(const AxisValues& values, std::string_view axis) {
  static const std::string kEmpty;
  for (const auto& [name, value] : values) {
    if (name == axis) return value;
  }
  return kEmpty;
}

std::string FormatAxes(const AxisValues& values) {
  return absl::StrJoin(values, " ", absl::PairFormatter("="));
}

}  // namespace cwb
