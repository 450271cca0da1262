// Which Python and CUDA versions each PyTorch release supports: the built-in table
// (data/pytorch-compatibility.yaml, embedded at build time) with a config's
// `pytorch_compatibility` entries replacing or adding releases. The planner leaves out matrix
// combinations no release supports, with the reason, instead of letting them fail an hour in.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/config/config.h"

namespace cwb {

class CompatibilityTable {
 public:
  // The built-in table merged with `overrides` (release "2.4" -> its versions).
  static absl::StatusOr<CompatibilityTable> Make(const std::map<std::string, TorchSupport>& overrides = {});

  // Why no release supports Python `python` with CUDA `cuda` ("cpu" or "12.1") and torch `torch`
  // ("2.4.0" or "2.4"); nullopt when one does, or when the release is not in the table.
  std::optional<std::string> Unsupported(const std::string& python, const std::string& cuda,
                                         const std::string& torch) const;
  bool Knows(const std::string& torch) const;

 private:
  std::map<std::string, TorchSupport> releases_;  // by "major.minor"
};

// Parses a table's `releases` mapping (the file's shape); errors name `origin`.
absl::StatusOr<std::map<std::string, TorchSupport>> ParseCompatibility(const std::string& yaml_text,
                                                                      const std::string& origin);

// The embedded data/pytorch-compatibility.yaml.
std::string_view BuiltinCompatibilityYaml();

}  // namespace cwb
