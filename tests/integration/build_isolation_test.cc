// What a build can reach, with real podman builds: the caches of its own trust domain only (its
// project's repository and who submitted it, decided by the coordinator), no token of the agent or
// of a client, and, on the host network, a coordinator with tokens on refuses its calls. And an
// agent whose builds use the host network warns when the coordinator takes clients without a token.
#include "tests/integration/cluster_fixture.h"

namespace cwb::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

class BuildIsolationTest : public ClusterTest {
 protected:
  // Submits `config` with the token in `token_file`, watches it to its end; returns the log of
  // its only task.
  std::string BuildAs(const fs::path& token_file, const std::string& config) {
    ChildProcess submit({CWB_CLI_BINARY, "--coordinator", address_, "--token-file", token_file.string(), "submit",
                         config, "--watch"});
    EXPECT_EQ(submit.Wait(seconds(600)), 0) << submit.Output();
    const std::string build_id = submit.WaitForLine("build (b\\w+)", seconds(1));
    const v1::BuildInfo build = Status(build_id);
    if (build.tasks_size() != 1) return "";
    auto [code, log] = RunCli({"logs", build_id, build.tasks(0).spec().id()});
    EXPECT_EQ(code, 0) << log;
    return log;
  }

  // A build that says which markers its caches hold, leaves its own, and builds the package.
  std::string MarkingConfig(const std::string& who) {
    return WriteOneTaskConfig(who + ".yaml", absl::StrCat(
        "|\n"
        "      echo \"cwb-cache-holds: $(ls \"$PIP_CACHE_DIR\" \"$CCACHE_DIR\" | grep cwb-marker | sort | tr '\\n' ' ')\"\n"
        "      touch \"$PIP_CACHE_DIR/cwb-marker-pip-", who, "\" \"$CCACHE_DIR/cwb-marker-ccache-", who, "\"\n"
        "      pip wheel . --no-deps --no-build-isolation -w \"$CWB_OUT\"\n"));
  }
};

TEST_F(BuildIsolationTest, EachTrustDomainHasCachesOfItsOwn) {
  std::ofstream(dir_ / "alice-token") << "alice-token-" << ::getpid() << "\n";
  std::ofstream(dir_ / "bob-token") << "bob-token-" << ::getpid() << "\n";
  StartCoordinator("127.0.0.1:0", {"--token", absl::StrCat("alice:submit=", (dir_ / "alice-token").string()),
                                   "--token", absl::StrCat("bob:submit=", (dir_ / "bob-token").string())});
  StartAgents(1);
  // Alice's build finds empty caches and marks them.
  EXPECT_THAT(BuildAs(dir_ / "alice-token", MarkingConfig("alice")), HasSubstr("cwb-cache-holds: \n"));
  // Bob names the same repository: a repository alone is not a domain, so his caches are others.
  EXPECT_THAT(BuildAs(dir_ / "bob-token", MarkingConfig("bob")), HasSubstr("cwb-cache-holds: \n"));
  // Alice's next build of that repository finds what her first left, and nothing of Bob's.
  EXPECT_THAT(BuildAs(dir_ / "alice-token", MarkingConfig("alice-again")),
              HasSubstr("cwb-cache-holds: cwb-marker-ccache-alice cwb-marker-pip-alice \n"));
  // Two domains on the agent's disk, each a digest the coordinator chose.
  std::vector<std::string> domains;
  for (const auto& entry : fs::directory_iterator(dir_ / "agent-1" / "cache")) {
    domains.push_back(entry.path().filename().string());
  }
  ASSERT_EQ(domains.size(), 2u);
  for (const std::string& domain : domains) EXPECT_EQ(domain.find_first_not_of("0123456789abcdef"), std::string::npos);
}

TEST_F(BuildIsolationTest, ABuildOnTheHostNetworkIsRefusedByTheCoordinatorAndHoldsNoToken) {
  StartCoordinator("127.0.0.1:0", {"--http-listen", "127.0.0.1:0"});
  const std::string http = coordinator_->WaitForLine("http on (\\S+)", seconds(30));
  ASSERT_FALSE(http.empty()) << coordinator_->Output();
  auto secret = [&](const char* file) {
    std::ifstream in(dir_ / file);
    std::string token;
    std::getline(in, token);
    return token;
  };
  // The agent's environment holds both tokens, as a careless deployment's would.
  StartAgents(1, {absl::StrCat("CWB_AGENT_TOKEN=", secret("agent-token")),
                  absl::StrCat("CWB_CLIENT_TOKEN=", secret("client-token"))});
  EXPECT_THAT(agents_[0]->Output(), Not(HasSubstr("takes clients without a token")));
  // The build calls the coordinator as any program on the host could: its HTTP API, and its gRPC
  // API through Debian's grpcio with raw bytes (no cwb code in the container).
  const std::string config = WriteOneTaskConfig("probe.yaml", absl::StrCat(
      "|\n"
      "      echo \"cwb-env-tokens: $(env | grep -c -e client-token- -e agent-token-)\"\n"
      "      python3 - <<'PY'\n"
      "      import grpc, urllib.error, urllib.request\n"
      "      for path in ('/api/builds', '/api/agents', '/metrics', '/'):\n"
      "          try:\n"
      "              code = urllib.request.urlopen('http://", http, "' + path, timeout=10).status\n"
      "          except urllib.error.HTTPError as error:\n"
      "              code = error.code\n"
      "          print('cwb-http', path, code)\n"
      "      channel = grpc.insecure_channel('", address_, "')\n"
      "      for method in ('/cwb.v1.BuildService/ListBuilds', '/cwb.v1.BuildService/SubmitBuild'):\n"
      "          try:\n"
      "              channel.unary_unary(method)(b'', timeout=10)\n"
      "              print('cwb-grpc', method, 'OK')\n"
      "          except grpc.RpcError as error:\n"
      "              print('cwb-grpc', method, error.code().name)\n"
      "      PY\n"
      "      pip wheel . --no-deps --no-build-isolation -w \"$CWB_OUT\"\n"));
  std::ofstream(config, std::ios::app) << "apt_packages: [python3-grpcio]\n";
  const std::string build_id = Submit(config);
  const v1::BuildInfo done = WaitForBuild(build_id, [](const v1::BuildInfo& b) { return b.finished(); }, seconds(600));
  ASSERT_EQ(done.succeeded(), 1u) << done.tasks(0).message();
  auto [code, log] = RunCli({"logs", build_id, done.tasks(0).spec().id()});
  ASSERT_EQ(code, 0) << log;
  EXPECT_THAT(log, HasSubstr("cwb-env-tokens: 0"));
  for (const char* path : {"/api/builds", "/api/agents", "/metrics", "/"}) {
    EXPECT_THAT(log, HasSubstr(absl::StrCat("cwb-http ", path, " 401"))) << log;
  }
  EXPECT_THAT(log, HasSubstr("cwb-grpc /cwb.v1.BuildService/ListBuilds UNAUTHENTICATED"));
  EXPECT_THAT(log, HasSubstr("cwb-grpc /cwb.v1.BuildService/SubmitBuild UNAUTHENTICATED"));
}

TEST_F(BuildIsolationTest, AnAgentBuildingOnTheHostNetworkWarnsOfACoordinatorWithoutAClientToken) {
  // On loopback a coordinator may leave clients open; its agents still need their token.
  coordinator_ = std::make_unique<ChildProcess>(std::vector<std::string>{
      CWB_COORDINATOR_BINARY, "--listen", "127.0.0.1:0", "--data-dir", (dir_ / "coordinator").string(),
      "--agent-token-file", (dir_ / "agent-token").string()});
  address_ = coordinator_->WaitForLine("listening on (\\S+)", seconds(30));
  ASSERT_FALSE(address_.empty()) << coordinator_->Output();
  StartAgents(1);  // --network host
  EXPECT_FALSE(agents_[0]->WaitForLine("takes clients without a token", seconds(30)).empty()) << agents_[0]->Output();
  // Builds in a network of their own: no warning.
  agents_.push_back(std::make_unique<ChildProcess>(std::vector<std::string>{
      CWB_AGENT_BINARY, "serve", "--coordinator", address_, "--agent-id", "agent-2", "--work-dir",
      (dir_ / "agent-2").string(), "--token-file", (dir_ / "agent-token").string()}));
  ASSERT_FALSE(agents_.back()->WaitForLine("serving", seconds(30)).empty()) << agents_.back()->Output();
  std::string listed;
  for (int i = 0; i < 300 && listed.find("agent-2") == std::string::npos; ++i) {  // registered
    listed = RunCli({"agents"}).second;
    if (listed.find("agent-2") == std::string::npos) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_THAT(listed, HasSubstr("agent-2"));
  EXPECT_THAT(agents_.back()->Output(), Not(HasSubstr("takes clients without a token")));
}

}  // namespace
}  // namespace cwb::testing
