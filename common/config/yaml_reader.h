// YamlReader: the primitives the config parser walks a YAML document with. Each reports what is
// wrong to a Diagnostics at the node's file:line:column with the key path ("projects[0].env.X")
// and returns nothing for it, so parsing carries on and every error is reported at once.
#pragma once

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/config/config.h"
#include "common/config/diagnostics.h"
#include "common/config/did_you_mean.h"
#include "common/config/validate.h"

namespace cwb {

using Validator = ValidationError (*)(std::string_view);

// The key path of `key` under `path` ("a.b", or a["x.y"] for keys needing quotes), and of item i.
std::string Child(const std::string& path, std::string_view key);
std::string Index(const std::string& path, size_t i);
// "a scalar", "a list", ... for messages.
std::string TypeName(const YAML::Node& node);

class YamlReader {
 protected:
  YamlReader(const std::string& file, Diagnostics& diagnostics) : file_(file), diag_(diagnostics) {}

  // Where `node` is, or `fallback` (or the document's root) when YAML did not mark it.
  SourceLocation Loc(const YAML::Node& node, const SourceLocation& fallback) const;
  SourceLocation Loc(const YAML::Node& node) const { return Loc(node, root_location_); }

  void Error(const YAML::Node& at, const std::string& path, std::string message);
  bool ExpectMap(const YAML::Node& node, const std::string& path);

  // Calls visit(key, key_node, value, key_path) for each entry of a map. Duplicate keys and,
  // when `known` is not empty, unknown keys are reported (with a suggestion) and skipped.
  template <typename Visit>
  void ForEachKey(const YAML::Node& map, const std::string& path, std::span<const std::string_view> known,
                  Visit visit) {
    std::map<std::string, SourceLocation> seen;
    for (const auto& entry : map) {
      const YAML::Node& key_node = entry.first;
      if (!key_node.IsScalar()) {
        Error(key_node, path, "keys must be plain scalars");
        continue;
      }
      const std::string key = key_node.Scalar();
      const std::string key_path = Child(path, key);
      if (auto [it, inserted] = seen.emplace(key, Loc(key_node)); !inserted) {
        Error(key_node, key_path, absl::StrCat("duplicate key (first given at ", it->second.ToString(), ")"));
        continue;
      }
      if (!known.empty() && std::find(known.begin(), known.end(), key) == known.end()) {
        Error(key_node, key_path, absl::StrCat("unknown key '", key, "'", DidYouMeanSuffix(key, known)));
        continue;
      }
      visit(key, key_node, entry.second, key_path);
    }
  }

  std::optional<std::string> Scalar(const YAML::Node& node, const std::string& path);
  // A scalar that `validate` accepts.
  std::optional<std::string> CheckedScalar(const YAML::Node& node, const std::string& path, Validator validate);
  // A list of scalars (a lone scalar counts as a list of one), each checked by `validate`.
  std::vector<std::string> ScalarList(const YAML::Node& node, const std::string& path, Validator validate);
  // A mapping of environment variable names to values.
  std::vector<EnvEntry> Env(const YAML::Node& node, const std::string& path);

  const std::string file_;
  Diagnostics& diag_;
  SourceLocation root_location_;
};

}  // namespace cwb
