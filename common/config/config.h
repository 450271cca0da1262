// The parsed build configuration: the seed's single-target format and the matrix superset share
// this one model (a `build_target` is a matrix with one value per axis). Values are kept as
// written; every entry remembers where it was written so later checks can point at it.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/config/axes.h"
#include "common/config/diagnostics.h"

namespace cwb {

// One axis of the matrix: its name and its values in the order written.
struct MatrixAxis {
  std::string name;
  std::vector<std::string> values;
  SourceLocation location;
};

// An `include` or `exclude` entry: axis -> value, in the order written.
struct MatrixEntry {
  AxisValues values;
  SourceLocation location;
  std::string key_path;
};

// A CI-style matrix. Required axes first, then extra axes in config order.
struct MatrixSpec {
  std::vector<MatrixAxis> axes;
  std::vector<MatrixEntry> include;
  std::vector<MatrixEntry> exclude;
  SourceLocation location;
  std::string key_path;  // "build_matrix" or "build_target"
};

// A project's narrowing of the build matrix: only these values of these axes, minus `exclude`.
struct MatrixRestriction {
  std::vector<MatrixAxis> only;
  std::vector<MatrixEntry> exclude;
  SourceLocation location;
  std::string key_path;
};

struct EnvEntry {
  std::string name;
  std::string value;
};

// `local_version`: the label format given to every wheel (Mustache, see local_version.h), or ""
// for none (`local_version: false`).
struct LocalVersionSetting {
  std::string format;
  SourceLocation location;
  std::string key_path;  // "local_version" or "projects[i].local_version"
};

struct ProjectConfig {
  std::string name;
  std::string repo_url;
  std::string repo_ref;       // empty: the remote's default branch
  std::string build_command;  // empty: the default `pip wheel` command
  std::vector<std::string> dependencies;
  std::vector<EnvEntry> env;  // in the order written
  std::vector<std::string> labels;  // an agent must carry all of them to build this project
  // Names of secrets the build needs; agents supply the values from their own environment.
  std::vector<std::string> secret_env;
  std::optional<MatrixRestriction> restriction;
  std::optional<LocalVersionSetting> local_version;  // unset: the config's
  std::optional<std::string> repair_command;         // unset: the config's; "": none (null)
  std::string test_command;                          // the smoke test; empty: none
  std::vector<std::string> test_dependencies;        // pip requirements of the smoke test
  // The build must see a GPU (it holds one, and tests in the same attempt); CUDA builds need none.
  bool build_needs_gpu = false;
  std::optional<bool> compile_cache;  // unset: the config's
  std::optional<std::string> platform_tag;  // unset: the config's
  SourceLocation location;
  std::string key_path;  // "projects[i]"
};

// What one PyTorch release has wheels for (major.minor versions).
struct TorchSupport {
  std::vector<std::string> python;
  std::vector<std::string> cuda;
};

struct BaseImage {
  std::string image;
  SourceLocation location;
};

struct Config {
  std::string config_path;              // as given by the user, for messages
  std::filesystem::path base_dir;       // directory relative paths are resolved against
  std::filesystem::path output_dir;     // output_dir_host, resolved
  MatrixSpec matrix;
  std::vector<ProjectConfig> projects;
  // pytorch version -> cuda version -> image.
  std::map<std::string, std::map<std::string, BaseImage>> base_images;
  SourceLocation base_images_location;
  std::vector<std::string> apt_packages;
  std::vector<std::string> pip_packages;
  std::vector<EnvEntry> env;            // applies to every project, before the project's own
  std::string template_path;            // dockerfile_template as written; empty: built-in
  SourceLocation template_location;
  std::string dockerfile_template;      // template text, filled by LoadConfigFile/LoadConfigText
  std::string template_origin;          // "builtin" or the template's resolved path
  std::optional<LocalVersionSetting> local_version;  // for every project without its own
  std::string repair_command;           // for every project without its own; empty: none
  bool fail_fast = false;               // the first failed task cancels the rest of the build
  // A built wheel whose smoke test needs a GPU no connected agent has is published untested.
  bool allow_untested = false;
  // Builds compile through ccache (C, C++, nvcc), shared by the cluster within a trust domain.
  bool compile_cache = true;
  // The wheels' platform tag after the release gate: "linux" (as built), "manylinux" (the oldest
  // manylinux_2_X the audit finds) or "manylinux_2_X" (that one, refused when the audit finds it
  // needs a newer one).
  std::string platform_tag = "linux";
  uint32_t max_parallel = 0;            // tasks of one build assigned or running at once; 0: no limit
  // pytorch_compatibility: releases replacing or adding to the built-in table.
  std::map<std::string, TorchSupport> compatibility;
};

}  // namespace cwb
