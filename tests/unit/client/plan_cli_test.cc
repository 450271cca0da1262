// Runs the real `cwb` binary on fixture configs: exit statuses, tables, JSON and the exact error
// text of every malformed-config fixture (tests/fixtures/configs/bad/NAME.yaml -> NAME.err).
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "absl/strings/str_split.h"
#include "common/base/atomic_file.h"
#include "common/rpc/task_proto.h"
#include "cwb/v1/state.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cwb {
namespace {

namespace fs = std::filesystem;

struct CliResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string Slurp(const fs::path& path) {
  std::stringstream text;
  text << std::ifstream(path).rdbuf();
  return text.str();
}

// Runs `cwb ARGS` from the source directory (so fixture paths are relative, as a user types).
CliResult RunCwb(const std::string& args) {
  // ctest runs tests in parallel processes: each gets its own output files.
  const ::testing::TestInfo* test = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = std::string(test->test_suite_name()) + "." + test->name();
  std::replace(name.begin(), name.end(), '/', '_');
  const fs::path dir = fs::path(::testing::TempDir()) / ("cwb_cli_" + std::to_string(::getpid()) + "_" + name);
  fs::create_directories(dir);
  const std::string command = "cd '" CWB_SOURCE_DIR "' && '" CWB_CLI_BINARY "' " + args + " >'" +
                              (dir / "out").string() + "' 2>'" + (dir / "err").string() + "'";
  const int status = std::system(command.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, Slurp(dir / "out"), Slurp(dir / "err")};
}

TEST(PlanCliTest, ReleaseMatrixTableListsExactlyTheExpectedTasks) {
  CliResult result = RunCwb("plan tests/fixtures/configs/release-3x3x2.yaml");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  std::vector<std::string> lines = absl::StrSplit(result.out, '\n', absl::SkipEmpty());
  ASSERT_FALSE(lines.empty());
  EXPECT_THAT(lines.front(), ::testing::MatchesRegex("ID +PROJECT +PYTHON +CUDA +TORCH +IMAGE"));
  EXPECT_EQ(lines.back(), "30 tasks, 15 images");
  std::set<std::string> rows;
  const std::regex row(R"(([0-9a-f]{16}) +(\S+) +(\S+) +(\S+) +(\S+) +wheel-builder:\S+)");
  for (size_t i = 1; i + 1 < lines.size(); ++i) {
    std::smatch m;
    ASSERT_TRUE(std::regex_match(lines[i], m, row)) << lines[i];
    rows.insert(m[2].str() + " " + m[3].str() + " " + m[4].str() + " " + m[5].str());
  }
  std::set<std::string> expected;
  for (std::string project : {"flash-attn", "causal-conv1d"}) {
    for (std::string py : {"3.10", "3.11", "3.12"}) {
      for (std::string cuda : {"11.8", "12.1", "12.4"}) {
        for (std::string torch : {"2.3.0", "2.4.0"}) {
          if (torch == "2.3.0" && cuda == "12.4") continue;
          expected.insert(project + " " + py + " " + cuda + " " + torch);
        }
      }
    }
  }
  EXPECT_EQ(rows, expected);
}

TEST(PlanCliTest, JsonPlanIsAParsableBuildPlan) {
  CliResult result = RunCwb("plan --json tests/fixtures/configs/release-3x3x2.yaml");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  v1::BuildPlan plan;
  ASSERT_TRUE(FromJson(result.out, &plan).ok()) << result.out;
  ASSERT_EQ(plan.tasks_size(), 30);
  const v1::TaskSpec& first = plan.tasks(0);
  EXPECT_EQ(first.project(), "flash-attn");
  EXPECT_EQ(first.axes(0).name(), "python_version");
  EXPECT_EQ(first.axes(0).value(), "3.10");
  EXPECT_EQ(first.source().repo_ref(), "v2.6.3");
  EXPECT_EQ(first.image().base_image(), "docker.io/pytorch/pytorch:2.3.0-cuda11.8-cudnn8-devel");  // as docker reads it
  EXPECT_EQ(first.image().content_hash().size(), 64u);
  // Same config, same ids.
  CliResult again = RunCwb("plan --json tests/fixtures/configs/release-3x3x2.yaml");
  EXPECT_EQ(again.out, result.out);
}

TEST(PlanCliTest, RenderWritesOneDockerfilePerDistinctImage) {
  const fs::path out = fs::path(::testing::TempDir()) / "cwb_render";
  fs::remove_all(out);
  CliResult result =
      RunCwb("render tests/fixtures/configs/release-3x3x2.yaml -o '" + out.string() + "'");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  int dockerfiles = 0;
  for (const auto& entry : fs::directory_iterator(out)) {
    EXPECT_THAT(entry.path().filename().string(),
                ::testing::MatchesRegex("wheel-builder-py3\\.1[012]-cuda1[12]\\.[148]-[0-9a-f]{12}"));
    EXPECT_THAT(Slurp(entry.path() / "Dockerfile"), ::testing::HasSubstr("FROM docker.io/pytorch/pytorch:"));
    ++dockerfiles;
  }
  EXPECT_EQ(dockerfiles, 15);
  EXPECT_THAT(result.out, ::testing::HasSubstr("15 Dockerfiles written"));
}

TEST(PlanCliTest, UsageErrorsExitWithTwo) {
  EXPECT_EQ(RunCwb("plan").exit_code, 2);
  EXPECT_EQ(RunCwb("no-such-command").exit_code, 2);
  CliResult missing = RunCwb("plan tests/fixtures/configs/does-not-exist.yaml");
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_THAT(missing.err, ::testing::HasSubstr("does-not-exist.yaml: cannot read file"));
}

class BadConfigTest : public ::testing::TestWithParam<std::string> {};

TEST_P(BadConfigTest, ExitsWithTwoAndNamesEveryPlace) {
  const std::string name = GetParam();
  const std::string config = "tests/fixtures/configs/bad/" + name + ".yaml";
  CliResult result = RunCwb("plan " + config);
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_TRUE(result.out.empty()) << result.out;
  // Every line names file:line:column.
  const std::vector<std::string> lines = absl::StrSplit(result.err, '\n', absl::SkipEmpty());
  for (const std::string& line : lines) {
    EXPECT_THAT(line, ::testing::StartsWith(config + ":"));
    EXPECT_THAT(line, ::testing::ContainsRegex("^[^:]+:[0-9]+:[0-9]+: "));
  }
  const fs::path golden = fs::path(CWB_SOURCE_DIR) / "tests/fixtures/configs/bad" / (name + ".err");
  if (std::getenv("CWB_UPDATE_GOLDEN") != nullptr) {
    ASSERT_TRUE(WriteFileAtomically(golden, result.err).ok());
  }
  EXPECT_EQ(result.err, Slurp(golden));
}

INSTANTIATE_TEST_SUITE_P(Fixtures, BadConfigTest,
                         ::testing::Values("unknown-key", "malformed-version", "duplicate-project",
                                           "empty-matrix", "missing-base-image", "shell-injection",
                                           "yaml-syntax", "wrong-types", "missing-keys"));

}  // namespace
}  // namespace cwb

namespace cwb {
namespace {

// Runs a shell command line; its standard output.
std::string Shell(const std::string& command) {
  const fs::path out = fs::path(::testing::TempDir()) / ("cwb_shell_" + std::to_string(::getpid()));
  const int status = std::system((command + " >'" + out.string() + "' 2>&1").c_str());
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << command << "\n" << Slurp(out);
  std::string text = Slurp(out);
  fs::remove(out);
  return text;
}

TEST(CliMannersTest, EverySubcommandHasHelpWithAnExample) {
  const CliResult top = RunCwb("--help");
  ASSERT_EQ(top.exit_code, 0);
  std::vector<std::string> subcommands;
  const std::regex line(R"(^  ([a-z]+) {2,}\S)");
  bool in_list = false;
  for (const std::string& text : std::vector<std::string>(absl::StrSplit(top.out, '\n'))) {
    if (text.starts_with("Subcommands:")) in_list = true;
    std::smatch m;
    if (in_list && std::regex_search(text, m, line)) subcommands.push_back(m[1]);
  }
  EXPECT_GE(subcommands.size(), 12u) << top.out;
  for (const std::string& sub : subcommands) {
    const CliResult help = RunCwb(sub + " --help");
    EXPECT_EQ(help.exit_code, 0) << sub;
    EXPECT_THAT(help.out, ::testing::HasSubstr("example: cwb " + sub)) << sub;
  }
  EXPECT_THAT(RunCwb("--version").out, ::testing::MatchesRegex("cwb [0-9]+\\.[0-9]+\\.[0-9]+\n"));
}

TEST(CliMannersTest, BashCompletionCompletesSubcommandsAndTheirFlags) {
  const CliResult script = RunCwb("completion bash");
  ASSERT_EQ(script.exit_code, 0) << script.err;
  const fs::path file = fs::path(::testing::TempDir()) / ("cwb_completion_" + std::to_string(::getpid()) + ".bash");
  std::ofstream(file) << script.out;
  auto complete = [&](const std::string& words, int current) {
    return Shell("bash -c 'source " + file.string() + "; COMP_WORDS=(" + words + "); COMP_CWORD=" +
                 std::to_string(current) + "; _cwb; echo \"${COMPREPLY[*]}\"'");
  };
  EXPECT_EQ(complete("cwb st", 1), "status\n");
  EXPECT_EQ(complete("cwb fetch --in", 2), "--index\n");
  EXPECT_EQ(complete("cwb --coordinator host:1 agents --", 4), "--help --json\n");  // a flag's value is skipped
  EXPECT_EQ(complete("cwb --to", 1), "--token-file\n");
  fs::remove(file);
}

TEST(CliMannersTest, ZshCompletionIsValidZshListingEverySubcommand) {
  const CliResult script = RunCwb("completion zsh");
  ASSERT_EQ(script.exit_code, 0) << script.err;
  EXPECT_TRUE(script.out.starts_with("#compdef cwb\n"));
  for (const char* sub : {"'plan:", "'submit:", "'status:", "'fetch:", "'completion:", "(fetch) _arguments"}) {
    EXPECT_THAT(script.out, ::testing::HasSubstr(sub));
  }
  const fs::path file = fs::path(::testing::TempDir()) / ("_cwb_" + std::to_string(::getpid()));
  std::ofstream(file) << script.out;
  Shell("zsh -n " + file.string());  // parses
  // Loaded as zsh loads completion functions, it defines _cwb without errors.
  Shell("zsh -f -c 'autoload -U compinit && compinit -u -D && source " + file.string() + " && whence -w _cwb'");
  fs::remove(file);
}

}  // namespace
}  // namespace cwb

namespace cwb {
namespace {

TEST(PlanCliTest, EveryExampleConfigPlans) {
  int examples = 0;
  for (const fs::directory_entry& entry : fs::directory_iterator(fs::path(CWB_SOURCE_DIR) / "examples")) {
    if (entry.path().extension() != ".yaml") continue;
    ++examples;
    const CliResult plan = RunCwb("plan examples/" + entry.path().filename().string());
    EXPECT_EQ(plan.exit_code, 0) << entry.path() << "\n" << plan.err;
  }
  EXPECT_GE(examples, 3);
  // Labelled wheels show their label.
  const CliResult matrix = RunCwb("plan examples/matrix.yaml");
  EXPECT_THAT(matrix.out, ::testing::MatchesRegex("ID +PROJECT +PYTHON +CUDA +TORCH +LABEL +IMAGE\n(.|\n)*"));
  EXPECT_THAT(matrix.out, ::testing::ContainsRegex("flash-attention +3.12 +12.4 +2.4.0 +\\+cu124torch2.4 +wheel-builder:"));
}

TEST(PlanCliTest, UnsupportedCombinationsAreLeftOutWithTheReasonOrAreErrorsWhenStrict) {
  const CliResult plan = RunCwb("plan tests/fixtures/configs/unsupported-combos.yaml");
  ASSERT_EQ(plan.exit_code, 0) << plan.err;
  EXPECT_THAT(plan.out, ::testing::HasSubstr("1 tasks, 1 images\n"
                                             "left out 1 combination(s) no PyTorch release supports (--strict: an error):\n"
                                             "  python_version=3.12, cuda_version=12.1, pytorch_version=2.1.2: PyTorch 2.1 "
                                             "has no wheels for Python 3.12 (it has 3.8, 3.9, 3.10, 3.11)\n"));
  const CliResult json = RunCwb("plan --json tests/fixtures/configs/unsupported-combos.yaml");
  v1::BuildPlan parsed;
  ASSERT_TRUE(FromJson(json.out, &parsed).ok()) << json.out;
  ASSERT_EQ(parsed.unsupported_size(), 1);
  EXPECT_THAT(parsed.unsupported(0).reason(), ::testing::HasSubstr("Python 3.12"));
  const CliResult strict = RunCwb("plan --strict tests/fixtures/configs/unsupported-combos.yaml");
  EXPECT_EQ(strict.exit_code, 2);
  EXPECT_THAT(strict.err, ::testing::HasSubstr("unsupported-combos.yaml:3:3: build_matrix: python_version=3.12"));
}

TEST(PlanCliTest, AnExcludeThatMatchesNothingIsAWarningAndAnErrorWhenStrict) {
  const CliResult plan = RunCwb("plan tests/fixtures/configs/exclude-typo.yaml");
  ASSERT_EQ(plan.exit_code, 0) << plan.err;
  EXPECT_THAT(plan.err, ::testing::HasSubstr("warning: tests/fixtures/configs/exclude-typo.yaml:7:7: build_matrix.exclude[0]: "
                                             "this exclude matches no combination of the matrix (python_version=3.10 "
                                             "cuda_version=11.08), so it excludes nothing\n"));
  EXPECT_THAT(plan.out, ::testing::HasSubstr("4 tasks"));  // nothing was excluded
  const CliResult strict = RunCwb("plan --strict tests/fixtures/configs/exclude-typo.yaml");
  EXPECT_EQ(strict.exit_code, 2);
  EXPECT_THAT(strict.err, ::testing::HasSubstr("exclude-typo.yaml:7:7: build_matrix.exclude[0]: this exclude matches no "
                                               "combination of the matrix (python_version=3.10 cuda_version=11.08), so it "
                                               "excludes nothing (--strict)"));
}

TEST(PlanCliTest, ABrokenClientConfigStopsTheCommandSayingWhere) {
  const fs::path home = fs::path(::testing::TempDir()) / ("cwb_xdg_" + std::to_string(::getpid()));
  fs::create_directories(home / "cwb");
  std::ofstream(home / "cwb/config.yaml") << "coordinater: farm:7600\n";
  ::setenv("XDG_CONFIG_HOME", home.c_str(), 1);
  const CliResult status = RunCwb("status");
  ::unsetenv("XDG_CONFIG_HOME");
  EXPECT_EQ(status.exit_code, 2);
  EXPECT_THAT(status.err, ::testing::HasSubstr((home / "cwb/config.yaml").string() +
                                               ":1:1: unknown key 'coordinater' (did you mean 'coordinator'?)"));
  fs::remove_all(home);
}

// `cwb coverage` over a wheelhouse with a manifest as `cwb fetch` writes it: a built cell whose
// wheel is there, a failed one, one not built, the unsupported combination; table, JSON, Markdown.
TEST(CoverageCliTest, WheelhouseCoverageAsTableJsonAndMarkdown) {
  const fs::path dir = fs::path(::testing::TempDir()) / ("cwb_coverage_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path config = dir / "release.yaml";
  std::ofstream(config) << "output_dir_host: out\n"
                           "build_matrix:\n"
                           "  python_version: [3.10, 3.11, 3.12]\n"
                           "  cuda_version: [12.1]\n"
                           "  pytorch_version: [2.1.2]\n"
                           "local_version: true\n"
                           "projects:\n"
                           "  - {name: demo, repo_url: https://example.com/demo.git}\n"
                           "  - {name: other, repo_url: https://example.com/other.git, matrix: {python_version: [3.11]}}\n"
                           "pytorch_base_images: {\"2.1.2\": {\"12.1\": img:1}}\n";
  const CliResult missing_all = RunCwb("coverage " + config.string());
  EXPECT_EQ(missing_all.exit_code, 1);
  EXPECT_THAT(missing_all.err, ::testing::HasSubstr("cwb-results.json holds no results (cwb fetch and cwb build write it)"));
  EXPECT_THAT(missing_all.out, ::testing::HasSubstr("0 of 3 cells built, 0 failed, 3 missing, 1 unsupported\n"));

  v1::BuildPlan plan;
  ASSERT_TRUE(FromJson(RunCwb("plan --json " + config.string()).out, &plan).ok());
  ASSERT_EQ(plan.tasks_size(), 3);
  const std::string wheel = "demo-1.0+cu121torch2.1-cp310-cp310-linux_x86_64.whl";
  const fs::path wheelhouse = dir / "out" / "wheelhouse";
  fs::create_directories(wheelhouse / "py310/cuda12.1/linux_x86_64");
  std::ofstream(wheelhouse / "py310/cuda12.1/linux_x86_64" / wheel) << "wheel bytes";
  v1::WheelhouseManifest manifest;
  v1::TaskInfo* built = manifest.add_tasks();
  *built->mutable_spec() = plan.tasks(0);
  built->set_state(v1::TASK_STATE_SUCCEEDED);
  v1::ArtifactInfo* artifact = built->add_artifacts();
  artifact->set_filename(wheel);
  artifact->set_size_bytes(11);
  artifact->set_wheelhouse_path("wheelhouse/py310/cuda12.1/linux_x86_64/" + wheel);
  v1::TaskInfo* failed = manifest.add_tasks();
  *failed->mutable_spec() = plan.tasks(1);
  failed->set_state(v1::TASK_STATE_FAILED);
  failed->set_message("the smoke test failed: the test command exited with status 1");
  std::ofstream(wheelhouse / "cwb-results.json") << ToJson(manifest);

  const CliResult table = RunCwb("coverage " + config.string());
  EXPECT_EQ(table.exit_code, 1) << table.err;
  std::vector<std::string> lines = absl::StrSplit(table.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 6u) << table.out;
  EXPECT_THAT(lines[0], ::testing::MatchesRegex("PROJECT +PYTHON +CUDA +TORCH +STATUS +GATE +WHEEL OR REASON"));
  EXPECT_THAT(lines[1], ::testing::MatchesRegex("demo +3.10 +12.1 +2.1.2 +built +" + std::regex_replace(wheel, std::regex(R"([.+])"), R"(\$&)")));
  EXPECT_THAT(lines[2], ::testing::MatchesRegex("demo +3.11 +12.1 +2.1.2 +failed +the smoke test failed: .*"));
  EXPECT_THAT(lines[3], ::testing::MatchesRegex("other +3.11 +12.1 +2.1.2 +missing +not built"));
  EXPECT_THAT(lines[4], ::testing::MatchesRegex("\\(every project\\) +3.12 +12.1 +2.1.2 +unsupported +PyTorch 2.1 has no wheels for Python 3.12.*"));
  EXPECT_EQ(lines[5], "1 of 3 cells built, 1 failed, 1 missing, 1 unsupported");

  const CliResult json = RunCwb("coverage --json " + config.string() + " --wheelhouse " + wheelhouse.string());
  v1::CoverageReport report;
  ASSERT_TRUE(FromJson(json.out, &report).ok()) << json.out;
  ASSERT_EQ(report.cells_size(), 4);
  EXPECT_EQ(report.cells(0).status(), v1::COVERAGE_STATUS_BUILT);
  EXPECT_EQ(report.cells(0).task_id(), plan.tasks(0).id());
  EXPECT_EQ(report.built(), 1u);

  const CliResult markdown = RunCwb("coverage --markdown " + config.string());
  EXPECT_THAT(markdown.out, ::testing::HasSubstr("| 3.10 | [✅](wheelhouse/py310/cuda12.1/linux_x86_64/" + wheel));
  EXPECT_THAT(markdown.out, ::testing::HasSubstr("| 3.11 | ❌ |\n"));
  EXPECT_EQ(RunCwb("coverage --markdown --json " + config.string()).exit_code, 2);  // one format

  // The wheel gone, its cell is missing and says why; every cell built, the exit status is 0.
  fs::remove(wheelhouse / "py310/cuda12.1/linux_x86_64" / wheel);
  EXPECT_THAT(RunCwb("coverage " + config.string()).out,
              ::testing::AllOf(::testing::HasSubstr("2.1.2  missing  "),
                               ::testing::HasSubstr(wheel + " was built but is not in " + wheelhouse.string())));
  std::ofstream(wheelhouse / "py310/cuda12.1/linux_x86_64" / wheel) << "wheel bytes";
  failed->set_state(v1::TASK_STATE_SUCCEEDED);
  v1::TaskInfo* other = manifest.add_tasks();
  *other->mutable_spec() = plan.tasks(2);
  other->set_state(v1::TASK_STATE_SUCCEEDED);
  std::ofstream(wheelhouse / "cwb-results.json") << ToJson(manifest);
  const CliResult complete = RunCwb("coverage " + config.string());
  EXPECT_EQ(complete.exit_code, 0) << complete.out;
  EXPECT_THAT(complete.out, ::testing::HasSubstr("3 of 3 cells built, 0 failed, 0 missing, 1 unsupported\n"));

  std::ofstream(wheelhouse / "cwb-results.json") << "{\"tasks\": 3}";
  const CliResult corrupt = RunCwb("coverage " + config.string());
  EXPECT_EQ(corrupt.exit_code, 2);
  EXPECT_THAT(corrupt.err, ::testing::HasSubstr("cwb-results.json: not a cwb results manifest"));
}

}  // namespace
}  // namespace cwb
