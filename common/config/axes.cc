#include "common/config/axes.h"

#include <algorithm>

#include "absl/strings/str_join.h"

namespace cwb {

bool IsRequiredAxis(std::string_view axis) {
  return std::find(kRequiredAxes.begin(), kRequiredAxes.end(), axis) != kRequiredAxes.end();
}

void AddExtraAxisNames(const AxisValues& values, std::vector<std::string>& names) {
  for (const auto& [name, value] : values) {
    if (!IsRequiredAxis(name) && std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  }
}

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
