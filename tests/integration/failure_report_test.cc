// Failures say their cause, with real tools: gcc's missing header and setuptools' pyproject
// validation built by pip in podman containers, an unreachable registry and an engine that is not
// running, each read back where a user looks (`cwb status`, `cwb logs`, `cwb coverage`, and
// `cwb build`'s summary with the path of the whole log).
#include <regex>

#include "tests/integration/cluster_fixture.h"

namespace cwb::testing {
namespace {

using ::testing::HasSubstr;

constexpr char kMissingHeader[] = "fatal error: torch/extension.h: No such file or directory";
constexpr char kBadLicense[] = "configuration error: `project.license` must be valid exactly by one definition";

class FailureReportTest : public ClusterTest {
 protected:
  // The demo C extension with a header its image lacks (as a torch extension built where torch
  // is missing), and the pure package with a pyproject license setuptools refuses.
  void MakeBrokenRepositories() {
    headerless_ = MakeRepositoryFrom(dir_, "examples/demo-package", "headerless");
    MustRun({"sed", "-i", "1i #include <torch/extension.h>", "cwb_demo/_native.c"}, {}, headerless_);
    Git(headerless_, {"commit", "-q", "-am", "include torch"});
    licence_ = MakeRepositoryFrom(dir_, "examples/demo-pure-package", "licence");
    MustRun({"sed", "-i", "/^\\[project\\]/a license = 42", "pyproject.toml"}, {}, licence_);
    Git(licence_, {"commit", "-q", "-am", "an invalid license"});
  }

  std::string WriteBrokenConfig(const std::string& base_image = kBaseImage) {
    const std::filesystem::path path = dir_ / "broken.yaml";
    std::ofstream(path) << absl::StrCat(
        "output_dir_host: ", (dir_ / "out").string(), "\n"
        "build_target: {python_version: 3.11, cuda_version: cpu, pytorch_version: 2.4.0}\n"
        "projects:\n"
        "  - name: headerless\n"
        "    repo_url: ", headerless_.string(), "\n"
        "    build_command: pip wheel . --no-deps --no-build-isolation -w \"$CWB_OUT\"\n"
        "  - name: licence\n"
        "    repo_url: ", licence_.string(), "\n"
        "    build_command: pip wheel . --no-deps --no-build-isolation -w \"$CWB_OUT\"\n"
        "pytorch_base_images: {\"2.4.0\": {cpu: \"", base_image, "\"}}\n");
    return path.string();
  }

  const v1::TaskInfo* TaskOf(const v1::BuildInfo& build, const std::string& project) {
    for (const v1::TaskInfo& task : build.tasks()) {
      if (task.spec().project() == project) return &task;
    }
    ADD_FAILURE() << "no task of " << project;
    return nullptr;
  }

  v1::BuildInfo BuildToTheEnd(const std::string& config) {
    const std::string build_id = Submit(config);
    return WaitForBuild(build_id, [](const v1::BuildInfo& b) { return b.finished(); }, seconds(300));
  }

  std::filesystem::path headerless_, licence_;
};

TEST_F(FailureReportTest, TheCompilersAndSetuptoolsOwnErrorsAreTheReasonAndStderrIsMarked) {
  MakeBrokenRepositories();
  StartCoordinator();
  StartAgents(2);
  const v1::BuildInfo build = BuildToTheEnd(WriteBrokenConfig());
  ASSERT_TRUE(build.finished());
  const v1::TaskInfo* headerless = TaskOf(build, "headerless");
  const v1::TaskInfo* licence = TaskOf(build, "licence");
  ASSERT_TRUE(headerless != nullptr && licence != nullptr);
  EXPECT_EQ(headerless->state(), v1::TASK_STATE_FAILED);
  EXPECT_THAT(headerless->message(), HasSubstr("the build command exited with status 1: "));
  EXPECT_THAT(headerless->message(), HasSubstr(kMissingHeader));
  EXPECT_THAT(licence->message(), HasSubstr(kBadLicense));
  EXPECT_LE(licence->message().size(), 700u);

  // The log keeps whole lines, stderr's marked.
  auto [code, log] = RunCli({"logs", build.build_id(), headerless->spec().id()});
  EXPECT_EQ(code, 0) << log;
  EXPECT_TRUE(std::regex_search(log, std::regex(absl::StrCat("\\[build:err\\]\\s+\\S*_native.c:1:10: ", kMissingHeader))))
      << log;
  EXPECT_THAT(log, HasSubstr("[build] "));  // pip's progress on stdout, unmarked

  // `cwb status` (the table) says it as well.
  auto [status_code, table] = RunCli({"status", build.build_id()});
  EXPECT_THAT(table, HasSubstr(kMissingHeader)) << table;
}

TEST_F(FailureReportTest, AnUnreachableRegistryIsNamedByTheEnginesOwnMessage) {
  MakeBrokenRepositories();
  StartCoordinator();
  StartAgents(1);
  // A registry on a loopback port nothing listens on.
  const v1::BuildInfo build = BuildToTheEnd(WriteBrokenConfig("127.0.0.1:1/cwb-test/nothing:1"));
  ASSERT_TRUE(build.finished());
  for (const v1::TaskInfo& task : build.tasks()) {
    EXPECT_THAT(task.message(), HasSubstr("podman build of "));
    EXPECT_THAT(task.message(), HasSubstr("127.0.0.1:1"));
    EXPECT_THAT(task.message(), HasSubstr("connection refused"));
  }
}

TEST_F(FailureReportTest, AnEngineThatIsNotRunningIsNamedByTheEnginesOwnMessage) {
  MakeBrokenRepositories();
  StartCoordinator();
  // podman talks to a service socket that does not exist (as with `--remote` to a dead one).
  StartAgents(1, {absl::StrCat("CONTAINER_HOST=unix://", (dir_ / "no-podman.sock").string())});
  const v1::BuildInfo build = BuildToTheEnd(WriteBrokenConfig());
  ASSERT_TRUE(build.finished());
  for (const v1::TaskInfo& task : build.tasks()) {
    EXPECT_EQ(task.state(), v1::TASK_STATE_FAILED);
    EXPECT_THAT(task.message(), HasSubstr("no-podman.sock"));
    EXPECT_THAT(task.message(), HasSubstr("): Error: unable to connect to Podman socket"));  // its error first
    EXPECT_EQ(task.message().find('\n'), std::string::npos);
    EXPECT_THAT(task.message(), ::testing::AnyOf(HasSubstr("Cannot connect to Podman"),
                                                 HasSubstr("unable to connect to Podman socket")));
    EXPECT_LE(task.message().size(), 700u) << task.message();
  }
}

TEST_F(FailureReportTest, CwbBuildSaysTheCauseAndWhereTheWholeLogIs) {
  MakeBrokenRepositories();
  const std::string config = WriteBrokenConfig();
  ChildProcess cli({CWB_CLI_BINARY, "build", config, "--network", "host"});
  EXPECT_EQ(cli.Wait(seconds(600)), 1);
  const std::string output = cli.Output();
  EXPECT_THAT(output, HasSubstr(kMissingHeader));
  EXPECT_THAT(output, HasSubstr(kBadLicense));
  std::smatch match;
  ASSERT_TRUE(std::regex_search(output, match, std::regex("    log: (/\\S+\\.log)"))) << output;
  std::ifstream log(match[1].str());
  ASSERT_TRUE(log.good()) << match[1].str();
  const std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  EXPECT_THAT(text, ::testing::AnyOf(HasSubstr(kMissingHeader), HasSubstr(kBadLicense)));

  // The coverage of the wheelhouse `cwb build` wrote gives the same reasons.
  auto [code, coverage] = RunCli({"coverage", config});
  EXPECT_THAT(coverage, HasSubstr(kMissingHeader)) << coverage;
}

}  // namespace
}  // namespace cwb::testing
