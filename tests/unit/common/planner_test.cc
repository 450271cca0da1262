#include "common/config/planner.h"

#include <set>

#include "common/config/builtin_template.h"
#include "common/config/config_parser.h"
#include "common/config/image_name.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cwb {
namespace {

using ::testing::HasSubstr;

// 3 python x 3 cuda x 2 torch, two projects, one exclude, one project restricted.
constexpr char kReleaseMatrix[] = R"(build_matrix:
  python_version: [3.10, 3.11, 3.12]
  cuda_version: [11.8, 12.1, cpu]
  pytorch_version: [2.3.0, 2.4.0]
  exclude:
    - pytorch_version: 2.3.0
      cuda_version: cpu
env:
  MAX_JOBS: 4
projects:
  - name: flash-attn
    repo_url: https://github.com/Dao-AILab/flash-attention.git
    repo_ref: v2.6.3
    env:
      MAX_JOBS: 2
      TORCH_CUDA_ARCH_LIST: "8.0;9.0"
  - name: demo
    repo_url: /srv/git/demo
    matrix:
      python_version: [3.12]
pytorch_base_images:
  "2.3.0": {"11.8": base:2.3-cu118, "12.1": base:2.3-cu121}
  "2.4.0": {"11.8": base:2.4-cu118, "12.1": base:2.4-cu121, cpu: base:2.4-cpu}
)";

BuildPlan PlanText(const std::string& text) {
  Diagnostics diagnostics;
  std::optional<Config> config = ParseConfig(text, "plan.yaml", diagnostics);
  EXPECT_TRUE(config.has_value()) << diagnostics.ToString();
  if (!config) return {};
  config->dockerfile_template = std::string(BuiltinDockerfileTemplate());
  config->template_origin = "builtin";
  std::optional<BuildPlan> plan = PlanBuild(*config, diagnostics);
  EXPECT_TRUE(plan.has_value()) << diagnostics.ToString();
  return plan.value_or(BuildPlan{});
}

std::string PlanErrors(const std::string& text) {
  Diagnostics diagnostics;
  std::optional<Config> config = ParseConfig(text, "plan.yaml", diagnostics);
  if (!config) return diagnostics.ToString();
  config->dockerfile_template = std::string(BuiltinDockerfileTemplate());
  EXPECT_FALSE(PlanBuild(*config, diagnostics).has_value());
  return diagnostics.ToString();
}

std::string Key(const PlannedTask& task) {
  return task.project + " " + FormatAxes(task.axes);
}

TEST(PlannerTest, ReleaseMatrixListsExactlyTheExpectedTasks) {
  BuildPlan plan = PlanText(kReleaseMatrix);
  std::set<std::string> keys;
  for (const PlannedTask& task : plan.tasks) keys.insert(Key(task));
  std::set<std::string> expected;
  for (std::string py : {"3.10", "3.11", "3.12"}) {
    for (std::string cuda : {"11.8", "12.1", "cpu"}) {
      for (std::string torch : {"2.3.0", "2.4.0"}) {
        if (torch == "2.3.0" && cuda == "cpu") continue;
        const std::string axes =
            "python_version=" + py + " cuda_version=" + cuda + " pytorch_version=" + torch;
        expected.insert("flash-attn " + axes);
        if (py == "3.12") expected.insert("demo " + axes);
      }
    }
  }
  EXPECT_EQ(keys, expected);
  EXPECT_EQ(plan.tasks.size(), 15u + 5u);
}

TEST(PlannerTest, EnvironmentMergesProjectOverConfig) {
  BuildPlan plan = PlanText(kReleaseMatrix);
  const PlannedTask& flash = plan.tasks.front();
  ASSERT_EQ(flash.env.size(), 2u);
  EXPECT_EQ(flash.env[0].name, "MAX_JOBS");
  EXPECT_EQ(flash.env[0].value, "2");
  EXPECT_EQ(flash.env[1].name, "TORCH_CUDA_ARCH_LIST");
  const PlannedTask& demo = plan.tasks.back();
  ASSERT_EQ(demo.env.size(), 1u);
  EXPECT_EQ(demo.env[0].value, "4");
}

TEST(PlannerTest, TaskIdsAreStableUniqueAndContentDerived) {
  BuildPlan first = PlanText(kReleaseMatrix);
  BuildPlan again = PlanText(kReleaseMatrix);
  std::set<std::string> ids;
  for (size_t i = 0; i < first.tasks.size(); ++i) {
    EXPECT_EQ(first.tasks[i].id, again.tasks[i].id);
    EXPECT_EQ(first.tasks[i].id.size(), 16u);
    ids.insert(first.tasks[i].id);
  }
  EXPECT_EQ(ids.size(), first.tasks.size());

  std::string changed = kReleaseMatrix;
  changed.replace(changed.find("v2.6.3"), 6, "v2.6.4");
  BuildPlan other = PlanText(changed);
  EXPECT_NE(other.tasks.front().id, first.tasks.front().id);  // flash-attn's ref changed
  EXPECT_EQ(other.tasks.back().id, first.tasks.back().id);    // demo did not change
}

TEST(PlannerTest, LocalVersionLabelsAreRenderedPerTaskAndPartOfTheId) {
  constexpr char kLabelled[] = R"(build_matrix:
  python_version: [3.12]
  cuda_version: [12.4, cpu]
  pytorch_version: [2.5.1]
  cxx11_abi: [TRUE, FALSE]
local_version: true
repair_command: repair-it
projects:
  - name: flash-attn
    repo_url: https://github.com/Dao-AILab/flash-attention.git
    test_command: python -c "import flash_attn"
    test_dependencies: [pytest]
  - name: custom
    repo_url: /srv/git/custom
    local_version: "{{cuda_tag}}.{{python_tag}}{{#cxx11_abi}}.abi{{cxx11_abi}}{{/cxx11_abi}}"
    repair_command:
  - name: plain
    repo_url: /srv/git/plain
    local_version: false
pytorch_base_images:
  "2.5.1": {"12.4": base:cu124, cpu: base:cpu}
)";
  BuildPlan plan = PlanText(kLabelled);
  ASSERT_EQ(plan.tasks.size(), 12u);
  std::vector<std::string> labels;
  for (const PlannedTask& task : plan.tasks) labels.push_back(task.local_version);
  EXPECT_THAT(labels, ::testing::ElementsAre("cu124torch2.5cxx11abiTRUE", "cu124torch2.5cxx11abiFALSE",
                                             "cputorch2.5cxx11abiTRUE", "cputorch2.5cxx11abiFALSE",
                                             "cu124.cp312.abiTRUE", "cu124.cp312.abiFALSE", "cpu.cp312.abiTRUE",
                                             "cpu.cp312.abiFALSE", "", "", "", ""));
  EXPECT_EQ(plan.tasks[0].repair_command, "repair-it");
  EXPECT_EQ(plan.tasks[4].repair_command, "");  // null: no repair for this project
  EXPECT_EQ(plan.tasks[0].test_command, R"(python -c "import flash_attn")");
  EXPECT_THAT(plan.tasks[0].test_dependencies, ::testing::ElementsAre("pytest"));

  // The label, the repair and the smoke test are part of a task's identity; a config without
  // them keeps the ids it had.
  std::string unlabelled = kLabelled;
  unlabelled.replace(unlabelled.find("local_version: true\n"), 20, "");
  EXPECT_NE(PlanText(unlabelled).tasks[0].id, plan.tasks[0].id);
  EXPECT_EQ(PlanText(unlabelled).tasks[8].id, plan.tasks[8].id);  // "plain" had no label anyway
  PlannedTask bare = plan.tasks[8];
  bare.repair_command.clear();
  bare.test_command.clear();
  bare.test_dependencies.clear();
  PlannedTask same = bare;
  same.id.clear();
  EXPECT_EQ(TaskId(same), TaskId(bare));
  same.test_command = "true";
  EXPECT_NE(TaskId(same), TaskId(bare));
}

TEST(PlannerTest, LabelFormatRenderingSomethingInvalidIsAnErrorAtItsKey) {
  std::string text = kReleaseMatrix;
  text += "local_version: \"{{cuda_tag}}-{{pytorch_version}}\"\n";
  // Reported once, for the first combination, though both projects use the format.
  EXPECT_EQ(PlanErrors(text),
            "plan.yaml:24:16: local_version: renders 'cu118-2.3.0' for python_version=3.10 "
            "cuda_version=11.8 pytorch_version=2.3.0, which is not a local version label "
            "(letters, digits and '.', at most 100, e.g. cu124torch2.5)");
  std::string unclosed = kReleaseMatrix;
  unclosed += "local_version: \"{{#cuda_tag}}x\"\n";
  EXPECT_THAT(PlanErrors(unclosed), ::testing::StartsWith("plan.yaml:24:16: local_version: Unclosed section"));
}

TEST(PlannerTest, TargetsWithTheSameRecipeShareOneImage) {
  BuildPlan plan = PlanText(kReleaseMatrix);
  std::set<std::string> hashes, tags;
  for (const PlannedTask& task : plan.tasks) {
    hashes.insert(task.image.content_hash);
    tags.insert(task.image.tag);
    EXPECT_THAT(task.image.tag, ::testing::StartsWith("wheel-builder:py" +
                                                      AxisOrEmpty(task.axes, kPythonAxis) +
                                                      "-cuda" + AxisOrEmpty(task.axes, kCudaAxis)));
  }
  // 15 distinct (python, cuda, torch) targets; the demo project reuses flash-attn's images.
  EXPECT_EQ(hashes.size(), 15u);
  EXPECT_EQ(tags.size(), 15u);
}

TEST(PlannerTest, TheCompileCacheIsOnUnlessTheConfigOrAProjectTurnsItOff) {
  const std::string on = std::string(kReleaseMatrix);
  BuildPlan plan = PlanText(on);
  for (const PlannedTask& task : plan.tasks) {
    EXPECT_TRUE(task.compile_cache);
    EXPECT_THAT(task.image.dockerfile, ::testing::HasSubstr("command -v ccache >/dev/null"));
  }
  BuildPlan off = PlanText(on + "compile_cache: false\n");
  ASSERT_EQ(off.tasks.size(), plan.tasks.size());
  for (size_t i = 0; i < off.tasks.size(); ++i) {
    EXPECT_FALSE(off.tasks[i].compile_cache);
    // Its image lacks ccache's step (another image, so another id; the flag itself is not hashed).
    EXPECT_THAT(off.tasks[i].image.dockerfile, ::testing::Not(::testing::HasSubstr("command -v ccache")));
    EXPECT_NE(off.tasks[i].image.content_hash, plan.tasks[i].image.content_hash);
  }
  // A project's own setting wins over the config's.
  std::string one_off = on;
  one_off.replace(one_off.find("    repo_url: https://github.com/Dao-AILab/flash-attention.git\n"),
                  std::string("    repo_url: https://github.com/Dao-AILab/flash-attention.git\n").size(),
                  "    repo_url: https://github.com/Dao-AILab/flash-attention.git\n    compile_cache: false\n");
  for (const PlannedTask& task : PlanText(one_off).tasks) EXPECT_EQ(task.compile_cache, task.project != "flash-attn");
  EXPECT_THAT(PlanErrors(on + "compile_cache: sometimes\n"), ::testing::HasSubstr("compile_cache"));
}

TEST(PlannerTest, MissingBaseImageNamesTheCombination) {
  std::string text = kReleaseMatrix;
  text.replace(text.find(", cpu: base:2.4-cpu"), 19, "");
  EXPECT_EQ(PlanErrors(text),
            "plan.yaml:22:3: pytorch_base_images: no base image for pytorch_version 2.4.0 with "
            "cuda_version cpu, needed by project 'flash-attn' at python_version=3.10 "
            "cuda_version=cpu pytorch_version=2.4.0 (add pytorch_base_images[\"2.4.0\"][\"cpu\"] "
            "or exclude the combination)");
}

TEST(PlannerTest, EmptyMatrixIsAnError) {
  std::string text = kReleaseMatrix;
  text.replace(text.find("    - pytorch_version: 2.3.0\n      cuda_version: cpu\n"),
               std::string("    - pytorch_version: 2.3.0\n      cuda_version: cpu\n").size(),
               "    - python_version: 3.10\n    - python_version: 3.11\n"
               "    - python_version: 3.12\n");
  EXPECT_EQ(PlanErrors(text),
            "plan.yaml:2:3: build_matrix: the matrix is empty: every combination is excluded");
}

TEST(PlannerTest, RestrictionToAbsentValueIsAnError) {
  std::string text = kReleaseMatrix;
  text.replace(text.find("python_version: [3.12]"), 22, "python_version: [3.13]");
  const std::string errors = PlanErrors(text);
  EXPECT_THAT(errors, HasSubstr("plan.yaml:20:7: projects[1].matrix.python_version: value '3.13' "
                                "is not in the build matrix"));
  EXPECT_THAT(errors, HasSubstr("plan.yaml:20:7: projects[1].matrix: project 'demo' keeps no "
                                "combination of the build matrix"));
}

TEST(PlannerTest, BrokenTemplateIsReportedOnce) {
  Diagnostics diagnostics;
  std::optional<Config> config = ParseConfig(kReleaseMatrix, "plan.yaml", diagnostics);
  ASSERT_TRUE(config.has_value());
  config->dockerfile_template = "FROM {{base_image}\n";
  config->template_origin = "mine.template";
  EXPECT_FALSE(PlanBuild(*config, diagnostics).has_value());
  ASSERT_EQ(diagnostics.errors().size(), 1u);
  EXPECT_THAT(diagnostics.ToString(), HasSubstr("template mine.template:"));
}

TEST(PlannerTest, MergeEnvKeepsFirstOrderAndLastValue) {
  std::vector<EnvEntry> merged = MergeEnv({{"A", "1"}, {"B", "2"}}, {{"B", "3"}, {"C", "4"}});
  ASSERT_EQ(merged.size(), 3u);
  EXPECT_EQ(merged[1].name, "B");
  EXPECT_EQ(merged[1].value, "3");
  EXPECT_EQ(merged[2].name, "C");
}

}  // namespace
}  // namespace cwb

namespace cwb {
namespace {

// Python 3.12 and CUDA 12.4 with torch 2.1 and 2.4: 2.1 has neither, 2.4 has both.
constexpr char kCompatMatrix[] = R"(build_matrix:
  python_version: [3.11, 3.12]
  cuda_version: [12.1, 12.4]
  pytorch_version: [2.1.2, 2.4.0]
projects:
  - name: demo
    repo_url: /srv/git/demo
pytorch_base_images:
  "2.1.2": {"12.1": base:a, "12.4": base:b}
  "2.4.0": {"12.1": base:c, "12.4": base:d}
)";

TEST(CompatibilityTest, CombinationsNoReleaseSupportsAreLeftOutWithTheReason) {
  const BuildPlan plan = PlanText(kCompatMatrix);
  std::set<std::string> planned;
  for (const PlannedTask& task : plan.tasks) planned.insert(FormatAxes(task.axes));
  EXPECT_EQ(plan.tasks.size(), 5u);  // 8, less 2.1 with 3.12 (twice) and 2.1 with 12.4 (3.11)
  ASSERT_EQ(plan.unsupported.size(), 3u);
  EXPECT_EQ(plan.unsupported[0].reason, "PyTorch 2.1 has no wheels for CUDA 12.4 (it has 11.8, 12.1)");
  EXPECT_EQ(plan.unsupported[1].reason, "PyTorch 2.1 has no wheels for Python 3.12 (it has 3.8, 3.9, 3.10, 3.11)");
  for (const UnsupportedTarget& target : plan.unsupported) {
    EXPECT_EQ(AxisOrEmpty(target.axes, kTorchAxis), "2.1.2");
    EXPECT_EQ(planned.count(FormatAxes(target.axes)), 0u);
  }
}

TEST(CompatibilityTest, StrictMakesThemErrorsAtTheMatrix) {
  Diagnostics diagnostics;
  std::optional<Config> config = ParseConfig(kCompatMatrix, "plan.yaml", diagnostics);
  ASSERT_TRUE(config.has_value()) << diagnostics.ToString();
  config->dockerfile_template = std::string(BuiltinDockerfileTemplate());
  EXPECT_FALSE(PlanBuild(*config, diagnostics, {.strict_compatibility = true}).has_value());
  EXPECT_EQ(diagnostics.errors().size(), 3u);
  EXPECT_THAT(diagnostics.ToString(), HasSubstr("plan.yaml:2:3: build_matrix: "));
  EXPECT_THAT(diagnostics.ToString(), HasSubstr("PyTorch 2.1 has no wheels for Python 3.12"));
}

TEST(CompatibilityTest, TheConfigOverridesAReleaseAndUnknownReleasesAreNotChecked) {
  // The config says 2.1 has CUDA 12.4 and Python 3.12 after all; 9.9 is in no table.
  const BuildPlan plan = PlanText(std::string(kCompatMatrix) +
                                  "pytorch_compatibility:\n"
                                  "  \"2.1\": {python: [\"3.11\", \"3.12\"], cuda: [\"12.1\", \"12.4\"]}\n");
  EXPECT_EQ(plan.tasks.size(), 8u);
  EXPECT_TRUE(plan.unsupported.empty());
  const BuildPlan unknown = PlanText(R"(build_target: {python_version: "3.99", cuda_version: "99.1", pytorch_version: "9.9.0"}
projects: [{name: demo, repo_url: /srv/git/demo}]
pytorch_base_images: {"9.9.0": {"99.1": base:x}}
)");
  EXPECT_EQ(unknown.tasks.size(), 1u);
}

TEST(CompatibilityTest, BadOverridesAreConfigErrors) {
  EXPECT_THAT(PlanErrors(std::string(kCompatMatrix) + "pytorch_compatibility:\n  \"2.1\": {python: [abc], cudaa: []}\n"),
              ::testing::AllOf(HasSubstr("plan.yaml:12:20: pytorch_compatibility[\"2.1\"].python[0]: 'abc' is not a valid"),
                               HasSubstr("unknown key 'cudaa' (did you mean 'cuda'?)")));
}

TEST(CompatibilityTest, EveryCombinationUnsupportedIsAnError) {
  EXPECT_THAT(PlanErrors(R"(build_target: {python_version: "3.13", cuda_version: "12.1", pytorch_version: "2.1.0"}
projects: [{name: demo, repo_url: /srv/git/demo}]
pytorch_base_images: {"2.1.0": {"12.1": base:x}}
)"),
              HasSubstr("no combination of the matrix is supported by a PyTorch release"));
}

TEST(ImageNameTest, ShortNamesAreDockerHubsAsDockerReadsThem) {
  EXPECT_EQ(FullImageName("ubuntu:22.04"), "docker.io/library/ubuntu:22.04");
  EXPECT_EQ(FullImageName("pytorch/pytorch:2.4.0-cuda12.1-cudnn9-devel"), "docker.io/pytorch/pytorch:2.4.0-cuda12.1-cudnn9-devel");
  EXPECT_EQ(FullImageName("docker.io/ubuntu"), "docker.io/library/ubuntu");
  EXPECT_EQ(FullImageName("index.docker.io/nvidia/cuda:12.4.1-devel"), "docker.io/nvidia/cuda:12.4.1-devel");
  EXPECT_EQ(FullImageName("nvcr.io/nvidia/pytorch:24.05-py3"), "nvcr.io/nvidia/pytorch:24.05-py3");
  EXPECT_EQ(FullImageName("localhost/cwb-base:bookworm"), "localhost/cwb-base:bookworm");
  EXPECT_EQ(FullImageName("registry:5000/team/img@sha256:abc"), "registry:5000/team/img@sha256:abc");
}

}  // namespace
}  // namespace cwb
