#include "common/config/compatibility.h"

#include <algorithm>

#include <yaml-cpp/yaml.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/config/versions.h"

namespace cwb {
namespace {

// "2.4.0" -> "2.4"; empty when not a version.
std::string MajorMinor(const std::string& version) {
  int major = 0, minor = 0;
  if (!ParseMajorMinor(version, &major, &minor)) return "";
  return absl::StrCat(major, ".", minor);
}

bool Contains(const std::vector<std::string>& versions, const std::string& version) {
  const std::string wanted = MajorMinor(version);
  return std::any_of(versions.begin(), versions.end(),
                     [&](const std::string& v) { return MajorMinor(v) == wanted; });
}

}  // namespace

absl::StatusOr<std::map<std::string, TorchSupport>> ParseCompatibility(const std::string& yaml_text,
                                                                      const std::string& origin) {
  std::map<std::string, TorchSupport> releases;
  try {
    const YAML::Node root = YAML::Load(yaml_text);
    const YAML::Node list = root["releases"];
    if (!list.IsMap()) return absl::InvalidArgumentError(absl::StrCat(origin, ": 'releases' must be a mapping"));
    for (const auto& entry : list) {
      const std::string release = MajorMinor(entry.first.as<std::string>());
      if (release.empty()) {
        return absl::InvalidArgumentError(absl::StrCat(origin, ": '", entry.first.as<std::string>(), "' is not a version"));
      }
      TorchSupport& support = releases[release];
      for (const YAML::Node& v : entry.second["python"]) support.python.push_back(v.as<std::string>());
      for (const YAML::Node& v : entry.second["cuda"]) support.cuda.push_back(v.as<std::string>());
    }
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(origin, ":", e.mark.line + 1, ":", e.mark.column + 1, ": ", e.msg));
  }
  return releases;
}

absl::StatusOr<CompatibilityTable> CompatibilityTable::Make(const std::map<std::string, TorchSupport>& overrides) {
  static const absl::StatusOr<std::map<std::string, TorchSupport>> builtin =
      ParseCompatibility(std::string(BuiltinCompatibilityYaml()), "data/pytorch-compatibility.yaml");
  if (!builtin.ok()) return builtin.status();
  CompatibilityTable table;
  table.releases_ = *builtin;
  for (const auto& [release, support] : overrides) table.releases_[MajorMinor(release)] = support;
  return table;
}

bool CompatibilityTable::Knows(const std::string& torch) const { return releases_.count(MajorMinor(torch)) > 0; }

std::optional<std::string> CompatibilityTable::Unsupported(const std::string& python, const std::string& cuda,
                                                           const std::string& torch) const {
  auto it = releases_.find(MajorMinor(torch));
  if (it == releases_.end()) return std::nullopt;
  const TorchSupport& support = it->second;
  if (!Contains(support.python, python)) {
    return absl::StrCat("PyTorch ", it->first, " has no wheels for Python ", python, " (it has ",
                        absl::StrJoin(support.python, ", "), ")");
  }
  if (cuda != "cpu" && !Contains(support.cuda, cuda)) {
    return absl::StrCat("PyTorch ", it->first, " has no wheels for CUDA ", cuda, " (it has ",
                        absl::StrJoin(support.cuda, ", "), ")");
  }
  return std::nullopt;
}

}  // namespace cwb
