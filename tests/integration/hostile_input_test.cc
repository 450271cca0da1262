// Hostile input against the real binaries: values far past any sensible length, in a config given
// to `cwb plan` and `cwb submit` and in a plan sent to the coordinator by a client that skips
// `cwb`; matrices too large to expand; oversized configs; tokens that would switch authentication
// off; a coordinator that would leave one side open to the network. Each is refused with a clear
// error, and nothing crashes.
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/process/boost_process_runner.h"
#include "coordinator/server.h"
#include "cwb/v1/client.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/child_process.h"
#include "tests/integration/test_env.h"
#include "tests/support/http_get.h"
#include "tests/support/submission.h"

namespace cwb {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using namespace cwb::testing;
using std::chrono::seconds;

constexpr const char* kConfig = kOneTaskConfig;

class HostileInputTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = TestDir(::testing::UnitTest::GetInstance()->current_test_info()->name()); }

  // Runs a binary; its exit (a signal shows a crash) and output.
  CapturedRun Run(std::vector<std::string> argv) {
    BoostProcessRunner runner;
    absl::StatusOr<CapturedRun> run = RunAndCapture(runner, {std::move(argv), {}, dir_});
    EXPECT_TRUE(run.ok()) << run.status();
    return run.ok() ? *std::move(run) : CapturedRun{};
  }
  std::string Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
    return (dir_ / name).string();
  }

  fs::path dir_;
};

TEST_F(HostileInputTest, ValuesPastAnyLengthAreRefusedByCwbNamingTheirPlace) {
  const std::string huge(30000, '1');
  struct Case {
    std::string config, where;
  };
  const std::vector<Case> cases = {
      {absl::StrCat("build_target: {python_version: ", huge, ", cuda_version: cpu, pytorch_version: 2.4.0}\n",
                    "projects: [{name: demo, repo_url: https://example.com/demo.git}]\n"),
       "long.yaml:1:32: build_target.python_version: '1111111111"},
      {absl::StrCat(kConfig, "apt_packages: [", std::string(30000, 'a'), "]\n"), ": apt_packages[0]: 'aaaaaaaaaa"},
      {absl::StrCat("build_target: {python_version: 3.11, cuda_version: cpu, pytorch_version: 2.4.0}\n",
                    "projects: [{name: demo, repo_url: https://example.com/", std::string(30000, 'r'), "}]\n"),
       ": projects[0].repo_url: 'https://example.com/rrrrr"},
  };
  for (const Case& c : cases) {
    const std::string config = Write("long.yaml", c.config);
    for (const char* command : {"plan", "submit"}) {
      CapturedRun run = Run({CWB_CLI_BINARY, "--coordinator", "127.0.0.1:1", command, config});
      EXPECT_EQ(run.exit.signal, 0) << command << " crashed: " << run.output.substr(0, 300);
      EXPECT_EQ(run.exit.exit_code, 2) << run.output.substr(0, 300);
      EXPECT_THAT(run.output, HasSubstr(c.where)) << run.output.substr(0, 300);
      EXPECT_LT(run.output.size(), 2000u);  // the value is quoted cut short, not echoed whole
    }
  }
}

TEST_F(HostileInputTest, AMatrixTooLargeToExpandAndAnOversizedConfigAreRefusedAtOnce) {
  std::string thousand;
  for (int i = 0; i < 1000; ++i) absl::StrAppend(&thousand, i == 0 ? "" : ", ", "v", i);
  const std::string matrix = Write("huge.yaml", absl::StrCat(R"(build_matrix:
  python_version: [3.11]
  cuda_version: [cpu]
  pytorch_version: [2.4.0]
  a: [)", thousand, "]\n  b: [", thousand, R"(]
projects: [{name: demo, repo_url: https://example.com/demo.git}]
pytorch_base_images: {"2.4.0": {cpu: base:1}}
)"));
  CapturedRun run = Run({CWB_CLI_BINARY, "plan", matrix});
  EXPECT_EQ(run.exit.exit_code, 2) << run.output.substr(0, 300);
  EXPECT_THAT(run.output, HasSubstr("huge.yaml:2:3: build_matrix: the matrix has more than 200000 combinations"));

  const std::string big = Write("big.yaml", std::string(2 << 20, '#'));
  run = Run({CWB_CLI_BINARY, "plan", big});
  EXPECT_EQ(run.exit.exit_code, 2);
  EXPECT_THAT(run.output, HasSubstr("2097152 bytes; a config or template may be at most 1048576"));
}

TEST_F(HostileInputTest, TheCoordinatorRefusesAHostilePlanAndKeepsServing) {
  ChildProcess coordinator({CWB_COORDINATOR_BINARY, "--listen", "127.0.0.1:0", "--data-dir", (dir_ / "c").string()});
  const std::string address = coordinator.WaitForLine("listening on (\\S+)", seconds(30));
  ASSERT_FALSE(address.empty()) << coordinator.Output();
  auto stub = v1::BuildService::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  auto call = [&](const v1::SubmitBuildRequest& request) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + seconds(30));
    v1::BuildInfo build;
    return stub->SubmitBuild(&context, request, &build);
  };
  const std::string huge(30000, '1');
  std::vector<std::pair<std::function<void(v1::SubmitBuildRequest&)>, std::string>> attacks = {
      {[&](auto& r) { r.mutable_plan()->mutable_tasks(0)->mutable_axes(0)->set_value(huge); },
       "plan.tasks[0].axes[0].value: longer than 4096 bytes"},
      {[&](auto& r) { r.mutable_plan()->mutable_tasks(0)->mutable_source()->set_repo_url("https://x/" + huge.substr(0, 3000)); },
       "plan.tasks[0].source.repo_url: 'https://x/1111"},
      {[&](auto& r) { r.mutable_plan()->mutable_tasks(0)->mutable_source()->set_repo_url("https://x/" + huge.substr(0, 2000)); },
       "plan.tasks[0].id: "},  // a valid URL, but the id no longer fits the spec
      {[&](auto& r) { r.mutable_plan()->mutable_tasks(0)->mutable_image()->add_apt_packages(huge.substr(0, 4000)); },
       "plan.tasks[0].image.apt_packages[0]: "},
      {[&](auto& r) {
         for (int i = 0; i < 60000; ++i) *r.mutable_plan()->add_tasks() = r.plan().tasks(0);
       },
       "plan.tasks: 60001 tasks, more than the 50000 a build may have"},
  };
  for (const auto& [attack, message] : attacks) {
    v1::SubmitBuildRequest request = SubmissionOf(kConfig, "hostile.yaml");
    attack(request);
    grpc::Status status = call(request);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
    EXPECT_THAT(status.error_message(), HasSubstr(message));
  }
  EXPECT_TRUE(call(SubmissionOf(kConfig, "fine.yaml")).ok());  // still serving
  coordinator.Signal(SIGTERM);
  EXPECT_EQ(coordinator.Wait(seconds(30)), 0) << coordinator.Output();
}

TEST_F(HostileInputTest, AnEmptyTokenIsAnErrorNotNoAuthentication) {
  for (const std::string& text : {std::string(""), std::string("\n"), std::string("  \n\t\n")}) {
    const std::string file = Write("empty.token", text);
    CapturedRun run = Run({CWB_COORDINATOR_BINARY, "--listen", "127.0.0.1:0", "--data-dir", (dir_ / "c").string(),
                           "--client-token-file", file});
    EXPECT_EQ(run.exit.exit_code, 2) << run.output;
    EXPECT_THAT(run.output, HasSubstr("is empty (an empty token would switch authentication off)"));
    run = Run({CWB_COORDINATOR_BINARY, "--listen", "127.0.0.1:0", "--data-dir", (dir_ / "c").string(), "--token",
               "ci:submit=" + file});
    EXPECT_EQ(run.exit.exit_code, 2) << run.output;
    run = Run({CWB_AGENT_BINARY, "serve", "--coordinator", "127.0.0.1:1", "--work-dir", (dir_ / "a").string(),
               "--token-file", file});
    EXPECT_EQ(run.exit.exit_code, 2) << run.output;
    EXPECT_THAT(run.output, HasSubstr("is empty"));
  }
}

TEST_F(HostileInputTest, ACoordinatorBeyondLoopbackWithAnOpenSideRefusesToStartUnlessTold) {
  const std::string client = Write("client.token", "client-secret\n");
  const std::string agent = Write("agent.token", "agent-secret\n");
  const std::vector<std::string> base = {CWB_COORDINATOR_BINARY, "--listen", "0.0.0.0:0", "--insecure",
                                         "--data-dir", (dir_ / "c").string()};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> argv = base;
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
  };
  CapturedRun open_agents = Run(with({"--client-token-file", client}));
  EXPECT_EQ(open_agents.exit.exit_code, 1) << open_agents.output;
  EXPECT_THAT(open_agents.output, HasSubstr("anyone reaching it could register as an agent"));
  EXPECT_THAT(open_agents.output, HasSubstr("--insecure-agents"));
  CapturedRun open_clients = Run(with({"--agent-token-file", agent}));
  EXPECT_EQ(open_clients.exit.exit_code, 1) << open_clients.output;
  EXPECT_THAT(open_clients.output, HasSubstr("--insecure-clients"));
  // Told so, or with both tokens, it serves.
  for (const std::vector<std::string>& extra :
       {std::vector<std::string>{"--client-token-file", client, "--insecure-agents"},
        std::vector<std::string>{"--client-token-file", client, "--agent-token-file", agent}}) {
    ChildProcess served(with(extra));
    EXPECT_FALSE(served.WaitForLine("listening on (\\S+)", seconds(30)).empty()) << served.Output();
    served.Signal(SIGTERM);
    EXPECT_EQ(served.Wait(seconds(30)), 0) << served.Output();
  }
}

TEST_F(HostileInputTest, OversizedHttpRequestsGet414And431) {
  ChildProcess coordinator({CWB_COORDINATOR_BINARY, "--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
                            "--data-dir", (dir_ / "c").string()});
  const std::string http = coordinator.WaitForLine("http on (\\S+)", seconds(30));
  ASSERT_FALSE(http.empty()) << coordinator.Output();
  const HttpAnswer long_target = HttpGet(http, "/api/builds?x=" + std::string(20000, 'a'));
  EXPECT_EQ(long_target.status, 414) << long_target.body;
  const HttpAnswer big_headers = HttpGet(http, "/api/builds", {{"X-Padding", std::string(20000, 'b')}});
  EXPECT_EQ(big_headers.status, 431) << big_headers.body;
  EXPECT_EQ(HttpGet(http, "/api/builds").status, 200);  // and it keeps serving
}

}  // namespace
}  // namespace cwb
