#include "common/config/yaml_reader.h"

namespace cwb {

std::string Child(const std::string& path, std::string_view key) {
  const bool plain = key.find_first_of(".[]\" ") == std::string_view::npos && !key.empty();
  const std::string k(key);
  if (plain) return path.empty() ? k : absl::StrCat(path, ".", k);
  return absl::StrCat(path, "[\"", k, "\"]");
}

std::string Index(const std::string& path, size_t i) { return absl::StrCat(path, "[", i, "]"); }

std::string TypeName(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null: return "nothing";
    case YAML::NodeType::Scalar: return "a scalar";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Map: return "a mapping";
    default: return "an undefined value";
  }
}

SourceLocation YamlReader::Loc(const YAML::Node& node, const SourceLocation& fallback) const {
  const YAML::Mark mark = node.Mark();
  if (mark.is_null() || mark.line < 0) return fallback;
  return {file_, mark.line + 1, mark.column + 1};
}

void YamlReader::Error(const YAML::Node& at, const std::string& path, std::string message) {
  diag_.Error(Loc(at), path, std::move(message));
}

bool YamlReader::ExpectMap(const YAML::Node& node, const std::string& path) {
  if (node.IsMap()) return true;
  Error(node, path, absl::StrCat("expected a mapping, found ", TypeName(node)));
  return false;
}

std::optional<std::string> YamlReader::Scalar(const YAML::Node& node, const std::string& path) {
  if (node.IsScalar()) return node.Scalar();
  Error(node, path, absl::StrCat("expected a scalar, found ", TypeName(node)));
  return std::nullopt;
}

std::optional<std::string> YamlReader::CheckedScalar(const YAML::Node& node, const std::string& path,
                                                     Validator validate) {
  auto value = Scalar(node, path);
  if (!value) return std::nullopt;
  if (auto error = validate(*value)) {
    Error(node, path, *error);
    return std::nullopt;
  }
  return value;
}

std::vector<std::string> YamlReader::ScalarList(const YAML::Node& node, const std::string& path,
                                                Validator validate) {
  std::vector<std::string> out;
  if (node.IsNull()) return out;
  if (node.IsScalar()) {
    if (auto v = CheckedScalar(node, path, validate)) out.push_back(*v);
    return out;
  }
  if (!node.IsSequence()) {
    Error(node, path, absl::StrCat("expected a list, found ", TypeName(node)));
    return out;
  }
  for (size_t i = 0; i < node.size(); ++i) {
    if (auto v = CheckedScalar(node[i], Index(path, i), validate)) out.push_back(*v);
  }
  return out;
}

std::vector<EnvEntry> YamlReader::Env(const YAML::Node& node, const std::string& path) {
  std::vector<EnvEntry> env;
  if (node.IsNull() || !ExpectMap(node, path)) return env;
  ForEachKey(node, path, {}, [&](const std::string& key, const YAML::Node& key_node, const YAML::Node& value,
                                 const std::string& key_path) {
    if (auto error = ValidateEnvName(key)) {
      Error(key_node, key_path, *error);
      return;
    }
    if (auto v = CheckedScalar(value, key_path, &ValidateEnvValue)) env.push_back({key, *v});
  });
  return env;
}

}  // namespace cwb
