#include "coordinator/published_names.h"

#include "absl/strings/str_cat.h"
#include "common/config/wheelhouse.h"

namespace cwb {

std::string WithBuildTag(const std::string& filename, int number) {
  absl::StatusOr<WheelName> name = ParseWheelFilename(filename);
  if (!name.ok()) return "";
  name->build = std::to_string(number);
  return WheelFilename(*name);
}

namespace {

// The number a wheel file name's build tag starts with; 0 without one.
int BuildTagNumber(const std::string& filename) {
  absl::StatusOr<WheelName> name = ParseWheelFilename(filename);
  if (!name.ok()) return 0;
  int number = 0;
  for (char c : name->build) {
    if (c < '0' || c > '9' || number > 100000000) break;
    number = number * 10 + (c - '0');
  }
  return number;
}

// This build published `name` already, with other bytes.
absl::Status TwoWheelsOfOneName(const std::string& name) {
  return absl::FailedPreconditionError(absl::StrCat(
      name, " already holds a different wheel of this build: two variants built wheels with the same name "
      "(give them distinct versions, e.g. a local version label such as +cu121torch2.4)"));
}

}  // namespace

absl::StatusOr<std::string> PublishedNames::NameFor(const std::string& filename, const std::string& sha256,
                                                    const std::string& build_id) const {
  auto taken = names_.find(filename);
  if (taken == names_.end() || taken->second.sha256 == sha256) return filename;
  if (taken->second.build_id == build_id) {
    return TwoWheelsOfOneName(filename);
  }
  // A later build of the same version: the lowest build tag above the name's own that is free or
  // holds these bytes.
  for (int number = BuildTagNumber(filename) + 1;; ++number) {
    const std::string tagged = WithBuildTag(filename, number);
    if (tagged.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          filename, " is already published with other bytes by build ", taken->second.build_id,
          ", and is not a wheel's file name that a build tag could tell apart"));
    }
    auto other = names_.find(tagged);
    if (other == names_.end() || other->second.sha256 == sha256) return tagged;
    if (other->second.build_id == build_id) {
      return TwoWheelsOfOneName(tagged);
    }
  }
}

void PublishedNames::Add(const std::string& filename, const std::string& sha256, const std::string& build_id) {
  names_.emplace(filename, Publication{sha256, build_id});
}

}  // namespace cwb
