// The compile cache, end to end with real processes: the coordinator (its HTTP store, or a real
// redis-server whose ACL users it makes per attempt), agents building in podman, and two real
// extensions: the C++ torch fixture (Debian's python3-torch and libtorch-dev) and the plain nvcc
// fixture (Debian's nvcc 11.8, the toolchain image). Each is built on one agent, then rebuilt at a
// commit that changes only Python code on another agent that never built it: every compile is
// served from the shared store. A second submitter naming the same repository gets no hit, and a
// store whose entries were truncated gives misses, never a wrong object.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include "tests/integration/cluster_fixture.h"

namespace cwb::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kToolchainImage[] = "localhost/cwb-cuda-toolchain:11.8";
constexpr char kPipWheel[] = "pip wheel . --no-deps --no-build-isolation -w \"$CWB_OUT\"";

// A port nothing listens on now (for redis-server, which cannot be given port 0).
int FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  socklen_t size = sizeof(address);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size);
  ::close(fd);
  return ntohs(address.sin_port);
}

class CompileCacheTest : public ClusterTest, public ::testing::WithParamInterface<std::string> {
 protected:
  void SetUp() override {
    ClusterTest::SetUp();
    if (IsSkipped()) return;
    MustRun({"bash", absl::StrCat(CWB_SOURCE_DIR, "/scripts/make-toolchain-image.sh")});
    torch_repo_ = MakeRepositoryFrom(dir_, "tests/fixtures/torch-extension", "torchext");
    cuda_repo_ = MakeRepositoryFrom(dir_, "tests/fixtures/cuda-extension", "cudaext");
    std::ofstream(dir_ / "alice-token") << "alice-token-" << ::getpid() << "\n";
    std::ofstream(dir_ / "bob-token") << "bob-token-" << ::getpid() << "\n";
  }
  void TearDown() override {
    if (redis_) redis_->Signal(SIGTERM);
    ClusterTest::TearDown();
  }

  // The coordinator, with the backend under test as its shared store (and alice and bob as submitters).
  void StartCluster() {
    std::vector<std::string> extra = {"--http-listen", "127.0.0.1:0",
                                      "--token", absl::StrCat("alice:submit=", (dir_ / "alice-token").string()),
                                      "--token", absl::StrCat("bob:submit=", (dir_ / "bob-token").string())};
    if (GetParam() == "redis") {
      redis_port_ = FreePort();
      std::ofstream(dir_ / "redis-password") << "redis-admin-" << ::getpid() << "\n";
      redis_ = std::make_unique<ChildProcess>(std::vector<std::string>{
          "redis-server", "--port", std::to_string(redis_port_), "--bind", "127.0.0.1", "--save", "",
          "--appendonly", "no", "--requirepass", absl::StrCat("redis-admin-", ::getpid()), "--maxmemory", "512mb",
          "--maxmemory-policy", "allkeys-lru"});
      ASSERT_FALSE(redis_->WaitForLine("(Ready to accept connections)", seconds(30)).empty()) << redis_->Output();
      extra.insert(extra.end(), {"--compile-cache-redis", absl::StrCat("redis://127.0.0.1:", redis_port_),
                                 "--compile-cache-redis-password-file", (dir_ / "redis-password").string()});
    }
    StartCoordinator("127.0.0.1:0", extra);
    http_ = coordinator_->WaitForLine("http on (\\S+)", seconds(10));
  }

  void StartAgent(const std::string& id) {
    agents_.push_back(std::make_unique<ChildProcess>(std::vector<std::string>{
        CWB_AGENT_BINARY, "serve", "--coordinator", address_, "--agent-id", id, "--work-dir", (dir_ / id).string(),
        "--network", "host", "--slots", "2", "--stop-grace", "5", "--token-file", (dir_ / "agent-token").string()}));
    ASSERT_FALSE(agents_.back()->WaitForLine("serving", seconds(30)).empty()) << agents_.back()->Output();
  }
  void StopAgents() {
    for (auto& agent : agents_) agent->Signal(SIGTERM);
    for (auto& agent : agents_) agent->Wait(seconds(60));
    agents_.clear();
  }

  std::string TorchConfig() {
    const fs::path path = dir_ / "torch.yaml";
    std::ofstream(path) << absl::StrCat(
        "build_target: {python_version: \"3.11\", cuda_version: cpu, pytorch_version: \"1.13\"}\n"
        "output_dir_host: ", (dir_ / "out").string(), "\n"
        "apt_packages: [python3-torch, libtorch-dev, pybind11-dev, ninja-build, g++]\n"
        "projects:\n"
        "  - name: torch-demo\n"
        "    repo_url: ", torch_repo_.string(), "\n"
        "    repo_ref: main\n"
        "    build_command: ", kPipWheel, "\n"
        "pytorch_base_images: {\"1.13\": {cpu: \"", kBaseImage, "\"}}\n");
    return path.string();
  }
  std::string CudaConfig() {
    const fs::path path = dir_ / "cuda.yaml";
    std::ofstream(path) << absl::StrCat(
        "build_target: {python_version: \"3.11\", cuda_version: \"11.8\", pytorch_version: \"2.1\"}\n"
        "output_dir_host: ", (dir_ / "out").string(), "\n"
        "projects:\n"
        "  - name: cuda-demo\n"
        "    repo_url: ", cuda_repo_.string(), "\n"
        "    repo_ref: main\n"
        "    build_command: ", kPipWheel, "\n"
        "    env: {TORCH_CUDA_ARCH_LIST: \"7.5\"}\n"
        "pytorch_base_images: {\"2.1\": {\"11.8\": \"", kToolchainImage, "\"}}\n");
    return path.string();
  }

  // Submits `config` as `who` (its token file), waits for its end; its only task.
  v1::TaskInfo BuildAs(const std::string& who, const std::string& config, bool reuse_results = true) {
    std::vector<std::string> argv = {CWB_CLI_BINARY, "--coordinator", address_, "--token-file",
                                     (dir_ / (who + "-token")).string(), "submit", config, "--json"};
    if (!reuse_results) argv.push_back("--no-cache");
    ChildProcess submit(argv);
    EXPECT_EQ(submit.Wait(seconds(60)), 0) << submit.Output();
    v1::BuildInfo build;
    EXPECT_TRUE(FromJson(submit.Output(), &build).ok()) << submit.Output();
    build = WaitForBuild(build.build_id(), [](const v1::BuildInfo& b) { return b.finished(); }, seconds(1500));
    EXPECT_EQ(build.tasks_size(), 1);
    if (build.tasks_size() != 1) return {};
    const v1::TaskInfo& task = build.tasks(0);
    EXPECT_EQ(task.state(), v1::TASK_STATE_SUCCEEDED) << task.message() << "\n" << LogOf(task);
    return task;
  }
  std::string LogOf(const v1::TaskInfo& task) { return RunCli({"logs", task.build_id(), task.spec().id()}).second; }

  // A commit that changes only Python code.
  static void ChangePythonOnly(const fs::path& repo, const std::string& package, const std::string& line) {
    std::ofstream(repo / package / "__init__.py", std::ios::app) << line << "\n";
    Git(repo, {"commit", "-q", "-am", "python only: " + line});
  }

  fs::path torch_repo_, cuda_repo_;
  std::string http_;
  std::unique_ptr<ChildProcess> redis_;
  int redis_port_ = 0;
};

TEST_P(CompileCacheTest, ARebuildAtAPythonOnlyCommitOnAnotherAgentIsServedFromTheSharedStore) {
  StartCluster();
  StartAgent("agent-1");
  const v1::TaskInfo torch_cold = BuildAs("alice", TorchConfig());
  const v1::TaskInfo cuda_cold = BuildAs("alice", CudaConfig());
  for (const v1::TaskInfo* task : {&torch_cold, &cuda_cold}) {
    EXPECT_EQ(task->agent_id(), "agent-1");
    EXPECT_EQ(task->compile_cache().hits(), 0u) << LogOf(*task);
    EXPECT_GE(task->compile_cache().misses(), 1u) << LogOf(*task);
    EXPECT_EQ(task->compile_cache().shared_store(), GetParam());
  }
  EXPECT_EQ(torch_cold.compile_cache().misses(), 3u) << LogOf(torch_cold);  // three translation units
  EXPECT_THAT(LogOf(torch_cold), HasSubstr("compile cache: this agent's directory, and the shared store (" + GetParam()));

  // Another agent that never built either, at commits that change only Python code.
  StopAgents();
  StartAgent("agent-2");
  ChangePythonOnly(torch_repo_, "cwb_torch_demo", "ANSWER = 42");
  ChangePythonOnly(cuda_repo_, "cwb_cuda_demo", "ANSWER = 42");
  const v1::TaskInfo torch_warm = BuildAs("alice", TorchConfig());
  const v1::TaskInfo cuda_warm = BuildAs("alice", CudaConfig());
  for (const auto& [cold, warm] : {std::pair{&torch_cold, &torch_warm}, std::pair{&cuda_cold, &cuda_warm}}) {
    const std::string log = LogOf(*warm);
    EXPECT_EQ(warm->agent_id(), "agent-2");
    EXPECT_NE(warm->commit(), cold->commit());
    EXPECT_EQ(warm->compile_cache().misses(), 0u) << log;
    EXPECT_EQ(warm->compile_cache().hits(), cold->compile_cache().misses()) << log;
    EXPECT_EQ(warm->compile_cache().remote_hits(), warm->compile_cache().hits()) << log;
    EXPECT_EQ(warm->compile_cache().errors(), 0u) << log;
    EXPECT_THAT(log, HasSubstr(absl::StrCat("compile cache: ", warm->compile_cache().hits(), " hits (",
                                            warm->compile_cache().hits(), " from the shared store), 0 misses")));
  }
  // The same repository submitted by someone else: another trust domain, no hit (built again, not
  // taken from the result cache).
  const v1::TaskInfo bob = BuildAs("bob", TorchConfig(), false);
  EXPECT_EQ(bob.compile_cache().hits(), 0u) << LogOf(bob);
  EXPECT_EQ(bob.compile_cache().misses(), 3u) << LogOf(bob);
  // The credential never shows in a log.
  EXPECT_THAT(LogOf(torch_warm), Not(HasSubstr(GetParam() + "://")));

  // Hit rates per agent: /metrics and `cwb agents --json`.
  const std::string metrics = MustRun({"curl", "-s", "-H", absl::StrCat("Authorization: Bearer client-token-", ::getpid()),
                                       absl::StrCat("http://", http_, "/metrics")});
  EXPECT_THAT(metrics, HasSubstr(absl::StrCat("cwb_compile_cache_calls_total{agent=\"agent-2\",result=\"remote_hit\"} ",
                                              torch_warm.compile_cache().hits() + cuda_warm.compile_cache().hits())));
  auto [agents_code, agents] = RunCli({"agents", "--json"});
  EXPECT_THAT(agents, HasSubstr("\"remote_hits\"")) << agents;

  if (GetParam() == "redis") {
    // Each attempt's user goes once its attempt has ended; the entries stay.
    const std::string password = absl::StrCat("redis-admin-", ::getpid());
    std::string users;
    for (int i = 0; i < 60; ++i) {
      users = MustRun({"redis-cli", "-p", std::to_string(redis_port_), "--no-auth-warning", "-a", password, "ACL", "USERS"});
      if (users.find("cwb-") == std::string::npos) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    EXPECT_THAT(users, Not(HasSubstr("cwb-")));
    EXPECT_NE(MustRun({"redis-cli", "-p", std::to_string(redis_port_), "--no-auth-warning", "-a", password, "DBSIZE"}),
              "0\n");
    return;
  }
  // Truncated entries in the store are misses, never wrong objects: a third agent rebuilds.
  int truncated = 0;
  for (const auto& entry : fs::recursive_directory_iterator(dir_ / "coordinator" / "compile-cache")) {
    if (!entry.is_regular_file() || entry.path().parent_path().filename() == ".spool") continue;
    fs::resize_file(entry.path(), entry.file_size() / 2);
    ++truncated;
  }
  EXPECT_GT(truncated, 0);
  StopAgents();
  StartAgent("agent-3");
  ChangePythonOnly(torch_repo_, "cwb_torch_demo", "ANSWER = 43");
  const v1::TaskInfo after_damage = BuildAs("alice", TorchConfig());
  EXPECT_EQ(after_damage.compile_cache().hits(), 0u) << LogOf(after_damage);
  EXPECT_EQ(after_damage.compile_cache().misses(), 3u) << LogOf(after_damage);
}

INSTANTIATE_TEST_SUITE_P(Backends, CompileCacheTest, ::testing::Values("http", "redis"),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

}  // namespace
}  // namespace cwb::testing
