#include "common/config/versions.h"

#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"

namespace cwb {
bool ParseMajorMinor(std::string_view version, int* major, int* minor) {
  std::vector<std::string> parts = absl::StrSplit(std::string(version), '.');
  if (parts.size() < 2) return false;
  return absl::SimpleAtoi(parts[0], major) && absl::SimpleAtoi(parts[1], minor);
}

bool DriverSupportsCuda(std::string_view driver_cuda, std::string_view task_cuda) {
  if (task_cuda == "cpu") return true;
  int driver_major = 0, driver_minor = 0, task_major = 0, task_minor = 0;
  if (!ParseMajorMinor(driver_cuda, &driver_major, &driver_minor) ||
      !ParseMajorMinor(task_cuda, &task_major, &task_minor)) {
    return false;
  }
  return std::tie(driver_major, driver_minor) >= std::tie(task_major, task_minor);
}

bool ReleaseMatches(std::string_view wanted, std::string_view actual) {
  actual = actual.substr(0, actual.find('+'));
  std::vector<std::string> want = absl::StrSplit(std::string(wanted), '.');
  std::vector<std::string> have = absl::StrSplit(std::string(actual), '.');
  if (wanted.empty() || want.size() > have.size()) return false;
  for (size_t i = 0; i < want.size(); ++i) {
    int w = 0, h = 0;
    if (!absl::SimpleAtoi(want[i], &w) || !absl::SimpleAtoi(have[i], &h) || w != h) return false;
  }
  return true;
}

}  // namespace cwb
