#include "common/config/config_parser.h"

#include <yaml-cpp/yaml.h>

#include <array>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/config/builtin_template.h"
#include "common/config/local_version.h"
#include "common/config/validate.h"
#include "common/config/yaml_reader.h"

namespace cwb {
namespace {

constexpr std::array<std::string_view, 17> kTopLevelKeys = {
    "output_dir_host", "build_target", "build_matrix",  "projects",           "pytorch_base_images",
    "apt_packages",    "pip_packages", "env",           "dockerfile_template", "fail_fast",
    "max_parallel",    "pytorch_compatibility", "local_version", "repair_command", "allow_untested",
    "compile_cache", "platform_tag"};
constexpr std::array<std::string_view, 2> kCompatibilityKeys = {"python", "cuda"};
constexpr std::array<std::string_view, 16> kProjectKeys = {
    "name",          "repo_url",       "repo_ref",     "build_command",    "dependencies",
    "env",           "matrix",         "labels",       "secret_env",       "local_version",
    "repair_command", "test_command", "test_dependencies", "build_needs_gpu", "compile_cache",
    "platform_tag"};
constexpr std::array<std::string_view, 5> kMatrixReservedKeys = {
    kPythonAxis, kCudaAxis, kTorchAxis, "include", "exclude"};

// Walks one YAML document, reporting each problem and carrying on.
class Parser : public YamlReader {
 public:
  Parser(const std::string& file, Diagnostics& diagnostics) : YamlReader(file, diagnostics) {}

  std::optional<Config> Parse(std::string_view text) {
    YAML::Node root;
    try {
      root = YAML::Load(std::string(text));
    } catch (const YAML::Exception& e) {
      diag_.Error({file_, e.mark.line + 1, e.mark.column + 1}, "", e.msg);
      return std::nullopt;
    }
    Config config;
    config.config_path = file_;
    if (!root.IsMap()) {
      diag_.Error(Loc(root, {file_, 1, 1}), "",
                  absl::StrCat("the config must be a mapping of keys, not ", TypeName(root)));
      return std::nullopt;
    }
    root_location_ = Loc(root, {file_, 1, 1});

    std::map<std::string, YAML::Node> top;
    ForEachKey(root, "", kTopLevelKeys, [&](const std::string& key, const YAML::Node&,
                                            const YAML::Node& value, const std::string&) {
      top[key] = value;
    });

    ParseMatrixSource(top, config);
    if (auto it = top.find("projects"); it != top.end()) {
      ParseProjects(it->second, config);
    } else {
      diag_.Error(root_location_, "projects", "missing required key 'projects'");
    }
    if (auto it = top.find("pytorch_base_images"); it != top.end()) {
      ParseBaseImages(it->second, config);
    } else {
      diag_.Error(root_location_, "pytorch_base_images",
                  "missing required key 'pytorch_base_images'");
    }
    if (auto it = top.find("output_dir_host"); it != top.end()) {
      if (auto v = Scalar(it->second, "output_dir_host")) {
        if (v->empty()) Error(it->second, "output_dir_host", "must not be empty");
        config.output_dir = *v;
      }
    } else {
      config.output_dir = "output";
    }
    if (auto it = top.find("apt_packages"); it != top.end()) {
      config.apt_packages = ScalarList(it->second, "apt_packages", &ValidateAptPackage);
    }
    if (auto it = top.find("pip_packages"); it != top.end()) {
      config.pip_packages = ScalarList(it->second, "pip_packages", &ValidatePipRequirement);
    }
    if (auto it = top.find("env"); it != top.end()) config.env = Env(it->second, "env");
    if (auto it = top.find("dockerfile_template"); it != top.end()) {
      if (auto v = Scalar(it->second, "dockerfile_template")) {
        if (v->empty()) Error(it->second, "dockerfile_template", "must not be empty");
        config.template_path = *v;
        config.template_location = Loc(it->second, root_location_);
      }
    }
    if (auto it = top.find("fail_fast"); it != top.end()) config.fail_fast = Flag(it->second, "fail_fast");
    if (auto it = top.find("allow_untested"); it != top.end()) {
      config.allow_untested = Flag(it->second, "allow_untested");
    }
    if (auto it = top.find("compile_cache"); it != top.end()) {
      config.compile_cache = Flag(it->second, "compile_cache");
    }
    if (auto it = top.find("max_parallel"); it != top.end()) {
      if (auto v = Scalar(it->second, "max_parallel")) {
        if (!absl::SimpleAtoi(*v, &config.max_parallel) || config.max_parallel == 0) {
          Error(it->second, "max_parallel", absl::StrCat("expected a positive number of tasks, found '", *v, "'"));
        }
      }
    }
    if (auto it = top.find("pytorch_compatibility"); it != top.end()) ParseCompatibility(it->second, config);
    if (auto it = top.find("local_version"); it != top.end()) {
      config.local_version = LocalVersion(it->second, "local_version");
    }
    if (auto it = top.find("platform_tag"); it != top.end()) {
      if (auto v = CheckedScalar(it->second, "platform_tag", &ValidatePlatformTagSetting)) config.platform_tag = *v;
    }
    if (auto it = top.find("repair_command"); it != top.end() && !it->second.IsNull()) {
      if (auto v = CheckedScalar(it->second, "repair_command", &ValidateBuildCommand)) config.repair_command = *v;
    }
    if (!diag_.empty()) return std::nullopt;
    return config;
  }

  // true or false (false, with an error naming `path`, for anything else).
  bool Flag(const YAML::Node& node, const std::string& path) {
    std::optional<std::string> v = Scalar(node, path);
    if (!v || *v == "false") return false;
    if (*v == "true") return true;
    Error(node, path, absl::StrCat("expected true or false, found '", *v, "'"));
    return false;
  }

  // pytorch_compatibility: {"2.4": {python: [...], cuda: [...]}, ...}
  void ParseCompatibility(const YAML::Node& node, Config& config) {
    const std::string path = "pytorch_compatibility";
    if (!ExpectMap(node, path)) return;
    for (const auto& entry : node) {
      const std::optional<std::string> release = CheckedScalar(entry.first, path, &ValidateTorchVersion);
      if (!release) continue;
      const std::string release_path = Child(path, *release);
      if (!ExpectMap(entry.second, release_path)) continue;
      TorchSupport support;
      ForEachKey(entry.second, release_path, kCompatibilityKeys,
                 [&](const std::string& key, const YAML::Node&, const YAML::Node& value, const std::string& key_path) {
                   if (key == "python") support.python = ScalarList(value, key_path, &ValidatePythonVersion);
                   if (key == "cuda") support.cuda = ScalarList(value, key_path, &ValidateCudaVersion);
                 });
      config.compatibility[*release] = support;
    }
  }

 private:
  // `local_version`: true (the default format), false (none) or a Mustache format.
  std::optional<LocalVersionSetting> LocalVersion(const YAML::Node& node, const std::string& path) {
    constexpr char kExpected[] =
        "expected true, false or a label format in quotes, such as \"{{cuda_tag}}torch{{torch_major_minor}}\"";
    if (!node.IsScalar()) {
      Error(node, path, absl::StrCat(kExpected, ", found ", TypeName(node),
                                     node.IsMap() ? " (unquoted braces are a YAML mapping)" : ""));
      return std::nullopt;
    }
    const std::optional<std::string> v = node.Scalar();
    if (v->empty() || v->find_first_of("\n\r\t") != std::string::npos) {
      Error(node, path, kExpected);
      return std::nullopt;
    }
    const std::string format = *v == "true" ? kDefaultLocalVersion : *v == "false" ? "" : *v;
    return LocalVersionSetting{format, Loc(node), path};
  }

  // ---- matrix ----

  void ParseMatrixSource(const std::map<std::string, YAML::Node>& top, Config& config) {
    auto target = top.find("build_target");
    auto matrix = top.find("build_matrix");
    if (target != top.end() && matrix != top.end()) {
      Error(matrix->second, "build_matrix",
            "give either build_target (one target) or build_matrix, not both");
      return;
    }
    if (target != top.end()) {
      ParseBuildTarget(target->second, config.matrix);
    } else if (matrix != top.end()) {
      ParseBuildMatrix(matrix->second, config.matrix);
    } else {
      diag_.Error(root_location_, "build_matrix",
                  "missing 'build_matrix' (or the single-target 'build_target')");
    }
  }

  void ParseBuildTarget(const YAML::Node& node, MatrixSpec& matrix) {
    matrix.key_path = "build_target";
    matrix.location = Loc(node);
    if (!ExpectMap(node, "build_target")) return;
    std::map<std::string, std::pair<std::string, SourceLocation>> values;
    ForEachKey(node, "build_target", kRequiredAxes,
               [&](const std::string& key, const YAML::Node&, const YAML::Node& value,
                   const std::string& key_path) {
                 if (auto v = CheckedScalar(value, key_path, ValidatorFor(key))) {
                   values[key] = {*v, Loc(value)};
                 }
               });
    for (std::string_view axis : kRequiredAxes) {
      auto it = values.find(std::string(axis));
      if (it == values.end()) {
        if (!node[std::string(axis)]) {
          Error(node, "build_target", absl::StrCat("missing required key '", std::string(axis), "'"));
        }
        continue;
      }
      matrix.axes.push_back({std::string(axis), {it->second.first}, it->second.second});
    }
  }

  static Validator ValidatorFor(std::string_view axis) {
    if (axis == kPythonAxis) return &ValidatePythonVersion;
    if (axis == kCudaAxis) return &ValidateCudaVersion;
    if (axis == kTorchAxis) return &ValidateTorchVersion;
    return &ValidateAxisValue;
  }

  std::vector<std::string> AxisValueList(const YAML::Node& node, const std::string& path,
                                         const std::string& axis) {
    std::vector<std::string> values = ScalarList(node, path, ValidatorFor(axis));
    if (node.IsSequence() && node.size() == 0) Error(node, path, "an axis needs at least one value");
    if (node.IsNull()) Error(node, path, "an axis needs at least one value");
    std::set<std::string> seen;
    for (const std::string& v : values) {
      if (!seen.insert(v).second) Error(node, path, absl::StrCat("value '", v, "' is listed twice"));
    }
    return values;
  }

  void ParseBuildMatrix(const YAML::Node& node, MatrixSpec& matrix) {
    matrix.key_path = "build_matrix";
    matrix.location = Loc(node);
    if (!ExpectMap(node, "build_matrix")) return;
    std::vector<MatrixAxis> extra;
    std::map<std::string, MatrixAxis> required;
    YAML::Node include, exclude;
    ForEachKey(node, "build_matrix", {}, [&](const std::string& key, const YAML::Node& key_node,
                                             const YAML::Node& value, const std::string& path) {
      if (key == "include") {
        include = value;
        return;
      }
      if (key == "exclude") {
        exclude = value;
        return;
      }
      const bool is_required = IsRequiredAxis(key);
      if (!is_required) {
        // Any other key is an extra axis, unless it looks like a misspelt known key.
        if (auto near = ClosestMatch(key, kMatrixReservedKeys)) {
          Error(key_node, path, absl::StrCat("unknown key '", key, "' (did you mean '", *near,
                                             "'? other keys declare extra axes, which must not "
                                             "look like a known key)"));
          return;
        }
        if (auto error = ValidateAxisName(key)) {
          Error(key_node, path, *error);
          return;
        }
      }
      MatrixAxis axis{key, AxisValueList(value, path, key), Loc(key_node)};
      if (is_required) {
        required[key] = std::move(axis);
      } else {
        extra.push_back(std::move(axis));
      }
    });
    for (std::string_view name : kRequiredAxes) {
      auto it = required.find(std::string(name));
      if (it == required.end()) {
        Error(node, "build_matrix", absl::StrCat("missing required axis '", std::string(name), "'"));
        continue;
      }
      matrix.axes.push_back(std::move(it->second));
    }
    for (MatrixAxis& axis : extra) matrix.axes.push_back(std::move(axis));

    std::vector<std::string_view> axis_names;
    for (const MatrixAxis& axis : matrix.axes) axis_names.push_back(axis.name);
    if (exclude) matrix.exclude = Entries(exclude, "build_matrix.exclude", axis_names, false);
    if (include) matrix.include = Entries(include, "build_matrix.include", axis_names, true);
  }

  // `include`/`exclude` entries. Exclude keys must be axes of the matrix; include entries may
  // also add new extra axes.
  std::vector<MatrixEntry> Entries(const YAML::Node& node, const std::string& path,
                                   std::span<const std::string_view> axis_names,
                                   bool may_add_axes) {
    std::vector<MatrixEntry> entries;
    if (node.IsNull()) return entries;
    if (!node.IsSequence()) {
      Error(node, path, absl::StrCat("expected a list of mappings, found ", TypeName(node)));
      return entries;
    }
    for (size_t i = 0; i < node.size(); ++i) {
      const YAML::Node& item = node[i];
      const std::string item_path = Index(path, i);
      if (!ExpectMap(item, item_path)) continue;
      MatrixEntry entry{{}, Loc(item), item_path};
      bool ok = true;
      ForEachKey(item, item_path, {}, [&](const std::string& key, const YAML::Node& key_node,
                                          const YAML::Node& value, const std::string& key_path) {
        const bool known =
            std::find(axis_names.begin(), axis_names.end(), key) != axis_names.end();
        if (!known && !may_add_axes) {
          Error(key_node, key_path,
                absl::StrCat("'", key, "' is not an axis of the matrix",
                             DidYouMeanSuffix(key, axis_names)));
          ok = false;
          return;
        }
        if (!known) {
          if (auto near = ClosestMatch(key, axis_names)) {
            Error(key_node, key_path, absl::StrCat("'", key, "' is not an axis of the matrix (did you mean '",
                                                   *near, "'?)"));
            ok = false;
            return;
          }
          if (auto error = ValidateAxisName(key)) {
            Error(key_node, key_path, *error);
            ok = false;
            return;
          }
        }
        if (auto v = CheckedScalar(value, key_path, ValidatorFor(key))) {
          entry.values.emplace_back(key, *v);
        } else {
          ok = false;
        }
      });
      if (entry.values.empty() && ok) {
        Error(item, item_path, "an entry needs at least one axis value");
        ok = false;
      }
      if (ok) entries.push_back(std::move(entry));
    }
    return entries;
  }

  // ---- projects ----

  void ParseProjects(const YAML::Node& node, Config& config) {
    if (!node.IsSequence()) {
      Error(node, "projects", absl::StrCat("expected a list of projects, found ", TypeName(node)));
      return;
    }
    if (node.size() == 0) {
      Error(node, "projects", "at least one project is needed");
      return;
    }
    std::map<std::string, SourceLocation> names;
    for (size_t i = 0; i < node.size(); ++i) {
      const std::string path = Index("projects", i);
      std::optional<ProjectConfig> project = ParseProject(node[i], path, config.matrix);
      if (!project) continue;
      if (auto [it, inserted] = names.emplace(project->name, project->location); !inserted) {
        Error(node[i]["name"], Child(path, "name"),
              absl::StrCat("duplicate project name '", project->name, "' (first given at ",
                           it->second.ToString(), ")"));
        continue;
      }
      config.projects.push_back(std::move(*project));
    }
  }

  std::optional<ProjectConfig> ParseProject(const YAML::Node& node, const std::string& path,
                                            const MatrixSpec& matrix) {
    if (!ExpectMap(node, path)) return std::nullopt;
    const size_t errors_before = diag_.errors().size();
    ProjectConfig project;
    project.location = Loc(node);
    project.key_path = path;
    bool has_name = false, has_url = false;
    ForEachKey(node, path, kProjectKeys, [&](const std::string& key, const YAML::Node&,
                                             const YAML::Node& value, const std::string& key_path) {
      if (key == "name") {
        has_name = true;
        if (auto v = CheckedScalar(value, key_path, &ValidateProjectName)) project.name = *v;
      } else if (key == "repo_url") {
        has_url = true;
        if (auto v = CheckedScalar(value, key_path, &ValidateRepoUrl)) project.repo_url = *v;
      } else if (key == "repo_ref") {
        if (value.IsNull()) return;
        if (auto v = CheckedScalar(value, key_path, &ValidateGitRef)) project.repo_ref = *v;
      } else if (key == "build_command") {
        if (value.IsNull()) return;
        if (auto v = CheckedScalar(value, key_path, &ValidateBuildCommand)) project.build_command = *v;
      } else if (key == "dependencies") {
        project.dependencies = ScalarList(value, key_path, &ValidatePipRequirement);
      } else if (key == "env") {
        project.env = Env(value, key_path);
      } else if (key == "secret_env") {
        project.secret_env = ScalarList(value, key_path, &ValidateSecretName);
      } else if (key == "labels") {
        project.labels = ScalarList(value, key_path, &ValidateLabel);
      } else if (key == "matrix") {
        project.restriction = Restriction(value, key_path, matrix);
      } else if (key == "local_version") {
        project.local_version = LocalVersion(value, key_path);
      } else if (key == "repair_command") {
        project.repair_command = "";  // null: no repair for this project
        if (value.IsNull()) return;
        if (auto v = CheckedScalar(value, key_path, &ValidateBuildCommand)) project.repair_command = *v;
      } else if (key == "test_command") {
        if (value.IsNull()) return;
        if (auto v = CheckedScalar(value, key_path, &ValidateBuildCommand)) project.test_command = *v;
      } else if (key == "test_dependencies") {
        project.test_dependencies = ScalarList(value, key_path, &ValidatePipRequirement);
      } else if (key == "build_needs_gpu") {
        project.build_needs_gpu = Flag(value, key_path);
      } else if (key == "platform_tag") {
        if (auto v = CheckedScalar(value, key_path, &ValidatePlatformTagSetting)) project.platform_tag = *v;
      } else if (key == "compile_cache") {
        project.compile_cache = Flag(value, key_path);
      }
    });
    if (!has_name) Error(node, path, "missing required key 'name'");
    if (!has_url) Error(node, path, "missing required key 'repo_url'");
    if (diag_.errors().size() != errors_before) return std::nullopt;
    return project;
  }

  std::optional<MatrixRestriction> Restriction(const YAML::Node& node, const std::string& path,
                                               const MatrixSpec& matrix) {
    if (!ExpectMap(node, path)) return std::nullopt;
    MatrixRestriction restriction;
    restriction.location = Loc(node);
    restriction.key_path = path;
    std::vector<std::string_view> axis_names;
    for (const MatrixAxis& axis : matrix.axes) axis_names.push_back(axis.name);
    for (const MatrixEntry& entry : matrix.include) {
      for (const auto& [name, value] : entry.values) {
        if (std::find(axis_names.begin(), axis_names.end(), name) == axis_names.end()) {
          axis_names.push_back(name);
        }
      }
    }
    ForEachKey(node, path, {}, [&](const std::string& key, const YAML::Node& key_node,
                                   const YAML::Node& value, const std::string& key_path) {
      if (key == "exclude") {
        restriction.exclude = Entries(value, key_path, axis_names, false);
        return;
      }
      if (std::find(axis_names.begin(), axis_names.end(), key) == axis_names.end()) {
        std::vector<std::string_view> candidates = axis_names;
        candidates.push_back("exclude");
        Error(key_node, key_path,
              absl::StrCat("'", key, "' is not an axis of the build matrix",
                           DidYouMeanSuffix(key, candidates)));
        return;
      }
      restriction.only.push_back({key, AxisValueList(value, key_path, key), Loc(key_node)});
    });
    return restriction;
  }

  // ---- base images ----

  void ParseBaseImages(const YAML::Node& node, Config& config) {
    config.base_images_location = Loc(node);
    if (!ExpectMap(node, "pytorch_base_images")) return;
    ForEachKey(node, "pytorch_base_images", {},
               [&](const std::string& torch, const YAML::Node& torch_key,
                   const YAML::Node& by_cuda, const std::string& torch_path) {
                 if (auto error = ValidateTorchVersion(torch)) {
                   Error(torch_key, torch_path, *error);
                   return;
                 }
                 if (!ExpectMap(by_cuda, torch_path)) return;
                 ForEachKey(by_cuda, torch_path, {},
                            [&](const std::string& cuda, const YAML::Node& cuda_key,
                                const YAML::Node& image, const std::string& cuda_path) {
                              if (auto error = ValidateCudaVersion(cuda)) {
                                Error(cuda_key, cuda_path, *error);
                                return;
                              }
                              if (auto v = CheckedScalar(image, cuda_path, &ValidateImageRef)) {
                                config.base_images[torch][cuda] = {*v, Loc(image)};
                              }
                            });
               });
  }

};

// The file's text, refused unread when it is larger than kMaxConfigBytes.
absl::StatusOr<std::string> ReadFile(const std::filesystem::path& path) {
  std::error_code error;
  if (const uintmax_t size = std::filesystem::file_size(path, error); !error && size > kMaxConfigBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(path.string(), ": ", size, " bytes; a config or template may be at most ", kMaxConfigBytes));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path.string(), ": cannot read file"));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

std::optional<Config> ParseConfig(std::string_view text, const std::string& file_name,
                                  Diagnostics& diagnostics) {
  if (text.size() > kMaxConfigBytes) {
    diagnostics.Error({file_name, 0, 0}, "",
                      absl::StrCat(text.size(), " bytes; a config may be at most ", kMaxConfigBytes));
    return std::nullopt;
  }
  return Parser(file_name, diagnostics).Parse(text);
}

absl::StatusOr<Config> LoadConfigText(std::string_view text, const std::string& file_name,
                                      const std::filesystem::path& base_dir,
                                      std::optional<std::string> template_text) {
  Diagnostics diagnostics;
  std::optional<Config> config = ParseConfig(text, file_name, diagnostics);
  if (!config) return diagnostics.ToStatus();
  config->base_dir = base_dir;
  if (config->output_dir.is_relative()) {
    config->output_dir = (base_dir / config->output_dir).lexically_normal();
  }
  for (ProjectConfig& project : config->projects) {
    // "./repo" and "../repo" name local repositories relative to the config.
    if (project.repo_url.starts_with("./") || project.repo_url.starts_with("../")) {
      project.repo_url = (base_dir / project.repo_url).lexically_normal().string();
    }
  }
  if (config->template_path.empty()) {
    config->dockerfile_template = std::string(BuiltinDockerfileTemplate());
    config->template_origin = "builtin";
    return *std::move(config);
  }
  std::filesystem::path template_path = config->template_path;
  if (template_path.is_relative()) template_path = base_dir / template_path;
  absl::StatusOr<std::string> text_or =
      template_text ? absl::StatusOr<std::string>(*std::move(template_text)) : ReadFile(template_path);
  if (!text_or.ok()) {
    diagnostics.Error(config->template_location, "dockerfile_template",
                      absl::StrCat("cannot read template ", template_path.string(), ": ", text_or.status().message()));
    return diagnostics.ToStatus();
  }
  config->dockerfile_template = *std::move(text_or);
  config->template_origin = template_path.lexically_normal().string();
  return *std::move(config);
}

absl::StatusOr<Config> LoadConfigFile(const std::filesystem::path& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  std::filesystem::path base_dir = std::filesystem::absolute(path).parent_path();
  return LoadConfigText(*text, path.string(), base_dir);
}

}  // namespace cwb
