// deploy/ started for real: systemd-analyze verifies the units, and each command line the units,
// the Kubernetes manifests and the compose file give (ExecStart, args, command) runs against the
// real binaries with the files it names made by the test, under a scratch root: /etc/... and
// /var/lib/... become <root>/etc/..., ports become 0 on the same addresses, and an agent's
// coordinator the one the test started. Each coordinator must start and serve its clients and an
// agent started from the same deployment must connect; everything is reached over loopback.
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/child_process.h"
#include "tests/integration/test_env.h"
#include "tests/support/http_get.h"

namespace cwb {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using namespace cwb::testing;
using std::chrono::seconds;

const fs::path kDeploy = fs::path(CWB_SOURCE_DIR) / "deploy";
using Env = std::map<std::string, std::string>;

std::string ReadText(const fs::path& path) {
  std::stringstream text;
  text << std::ifstream(path).rdbuf();
  return text.str();
}

// KEY=VALUE lines of an environment file (comments and blank lines skipped).
Env ReadEnvFile(const fs::path& path) {
  Env env;
  const std::vector<std::string> lines = absl::StrSplit(ReadText(path), '\n', absl::SkipEmpty());
  for (std::string_view line : lines) {
    if (line.starts_with("#")) continue;
    const size_t equals = line.find('=');
    if (equals != std::string_view::npos) env[std::string(line.substr(0, equals))] = std::string(line.substr(equals + 1));
  }
  return env;
}

// A unit's ExecStart as systemd reads it: continuation lines joined, words split on blanks,
// "${VAR}" replaced within a word and a lone "$VAR" by its value split into words.
std::vector<std::string> ExecStartOf(const fs::path& unit, const Env& env) {
  std::string text = std::regex_replace(ReadText(unit), std::regex("\\\\\n"), " ");
  std::smatch match;
  EXPECT_TRUE(std::regex_search(text, match, std::regex("\nExecStart=([^\n]*)"))) << unit;
  std::vector<std::string> argv;
  const std::vector<std::string> words = absl::StrSplit(match[1].str(), ' ', absl::SkipEmpty());
  for (std::string_view word : words) {
    if (word.starts_with("$") && !word.starts_with("${")) {
      auto value = env.find(std::string(word.substr(1)));
      if (value == env.end()) continue;
      const std::vector<std::string> parts = absl::StrSplit(value->second, ' ', absl::SkipEmpty());
      argv.insert(argv.end(), parts.begin(), parts.end());
      continue;
    }
    std::string expanded(word);
    for (const auto& [name, value] : env) expanded = std::regex_replace(expanded, std::regex("\\$\\{" + name + "\\}"), value);
    argv.push_back(expanded);
  }
  return argv;
}

std::vector<std::string> Strings(const YAML::Node& list) {
  std::vector<std::string> out;
  for (const YAML::Node& item : list) out.push_back(item.as<std::string>());
  return out;
}

// The same command line on this machine: the program is the built binary of that name, /etc/ and
// /var/lib/ paths are under `root`, the well-known ports are 0, and --coordinator is `coordinator`.
std::vector<std::string> Localize(std::vector<std::string> argv, const fs::path& root, const std::string& coordinator) {
  const std::map<std::string, std::string> binaries = {{"cwb-coordinator", CWB_COORDINATOR_BINARY},
                                                       {"cwb-agent", CWB_AGENT_BINARY}};
  const std::regex paths("(^|=)/(etc|var/lib)/");
  const std::regex ports("(\\d+\\.\\d+\\.\\d+\\.\\d+):(7600|8080|9101)$");
  for (size_t i = 0; i < argv.size(); ++i) {
    std::string& arg = argv[i];
    if (i == 0 && binaries.count(fs::path(arg).filename())) arg = binaries.at(fs::path(arg).filename());
    arg = std::regex_replace(arg, paths, "$1" + root.string() + "/$2/");
    arg = std::regex_replace(arg, ports, "$1:0");
    if (arg.starts_with("--coordinator=")) arg = "--coordinator=" + coordinator;
    if (i > 0 && argv[i - 1] == "--coordinator") arg = coordinator;
  }
  return argv;
}

// `env K=V... argv...`: a command line with its environment.
std::vector<std::string> WithEnv(const Env& env, const std::vector<std::string>& argv) {
  std::vector<std::string> out = {"env", "PATH=/usr/bin:/bin:/usr/sbin:/sbin"};  // Debian's docker (the podman shim)
  for (const auto& [name, value] : env) out.push_back(absl::StrCat(name, "=", value));
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

// The loopback form of an address a server printed ("0.0.0.0:123" -> "127.0.0.1:123").
std::string Loopback(const std::string& address) {
  return absl::StrCat("127.0.0.1", address.substr(address.rfind(':')));
}

class DeployStartTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TestDir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    root_ = dir_ / "root";
    fs::create_directories(root_ / "var/lib");
  }

  // Starts a coordinator; its gRPC and HTTP addresses over loopback.
  void StartCoordinator(const Env& env, const std::vector<std::string>& argv) {
    coordinator_ = std::make_unique<ChildProcess>(WithEnv(env, Localize(argv, root_, "")));
    address_ = coordinator_->WaitForLine("\"address\":\"([^\"]+)\"", seconds(30));
    ASSERT_FALSE(address_.empty()) << coordinator_->Output();
    address_ = Loopback(address_);
    http_ = coordinator_->WaitForLine("\"http_address\":\"([^\"]+)\"", seconds(30));
    ASSERT_FALSE(http_.empty()) << coordinator_->Output();
    http_ = Loopback(http_);
  }

  // Starts an agent; waits until the coordinator says it connected.
  void StartAgent(const Env& env, const std::vector<std::string>& argv, const std::string& agent_id) {
    std::vector<std::string> local = Localize(argv, root_, address_);
    local.insert(local.end(), {"--nvidia-smi", "/nonexistent/nvidia-smi"});
    agents_.push_back(std::make_unique<ChildProcess>(WithEnv(env, local)));
    ASSERT_FALSE(coordinator_->WaitForLine("agent " + agent_id + " connected", seconds(60)).empty())
        << coordinator_->Output() << agents_.back()->Output();
  }

  // SIGTERM to everything; each exits 0.
  void StopAll() {
    for (auto& agent : agents_) {
      agent->Signal(SIGTERM);
      EXPECT_EQ(agent->Wait(seconds(60)), 0) << agent->Output();
    }
    coordinator_->Signal(SIGTERM);
    EXPECT_EQ(coordinator_->Wait(seconds(30)), 0) << coordinator_->Output();
  }

  fs::path dir_, root_;
  std::string address_, http_;
  std::unique_ptr<ChildProcess> coordinator_;
  std::vector<std::unique_ptr<ChildProcess>> agents_;
};

TEST_F(DeployStartTest, SystemdUnitsVerifyAndTheirCommandsServe) {
  // systemd-analyze verify, in a root holding systemd's own units and the binaries where the
  // units name them.
  const fs::path verify_root = dir_ / "verify";
  fs::create_directories(verify_root / "usr/lib/systemd");
  fs::create_directories(verify_root / "etc/systemd/system");
  fs::create_directories(verify_root / "usr/local/bin");
  fs::copy(fs::exists("/usr/lib/systemd/system") ? "/usr/lib/systemd/system" : "/lib/systemd/system",
           verify_root / "usr/lib/systemd/system", fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  for (const char* binary : {CWB_COORDINATOR_BINARY, CWB_AGENT_BINARY}) {
    fs::copy_file(binary, verify_root / "usr/local/bin" / fs::path(binary).filename());
  }
  std::vector<std::string> verify = {"systemd-analyze", "verify", "--root=" + verify_root.string()};
  for (const char* unit : {"cwb-coordinator.service", "cwb-agent.service"}) {
    fs::copy_file(kDeploy / "systemd" / unit, verify_root / "etc/systemd/system" / unit);
    verify.push_back((verify_root / "etc/systemd/system" / unit).string());
  }
  EXPECT_EQ(MustRun(verify), "");  // no warning either

  // The coordinator's files as cwb-coordinator-setup makes them, then its ExecStart.
  const std::string group = MustRun({"id", "-gn"}).substr(0, MustRun({"id", "-gn"}).find('\n'));
  const std::string setup = MustRun({(kDeploy / "systemd/cwb-coordinator-setup").string(), "--etc",
                                     (root_ / "etc/cwb").string(), "--group", group});
  EXPECT_THAT(setup, HasSubstr("coordinator.env"));
  EXPECT_EQ(fs::status(root_ / "etc/cwb/coordinator.env").permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_EQ(MustRun({(kDeploy / "systemd/cwb-coordinator-setup").string(), "--etc", (root_ / "etc/cwb").string(),
                     "--group", group}),
            "");  // a second run changes nothing
  const Env coordinator_env = ReadEnvFile(root_ / "etc/cwb/coordinator.env");
  ASSERT_EQ(coordinator_env.at("CWB_CLIENT_TOKEN").size(), 64u);
  ASSERT_NO_FATAL_FAILURE(
      StartCoordinator(coordinator_env, ExecStartOf(kDeploy / "systemd/cwb-coordinator.service", coordinator_env)));

  // The agent's ExecStart with an agent.env like the example's, the coordinator's certificate as
  // its CA.
  Env agent_env = ReadEnvFile(kDeploy / "systemd/agent.env.example");
  agent_env["CWB_AGENT_TOKEN"] = coordinator_env.at("CWB_AGENT_TOKEN");
  agent_env["CWB_COORDINATOR"] = address_;
  fs::create_directories(root_ / "etc/cwb");
  fs::copy_file(root_ / "etc/cwb/tls/server.pem", root_ / "etc/cwb/coordinator.pem");
  agent_env["CWB_AGENT_FLAGS"] += " --agent-id unit-agent";
  ASSERT_NO_FATAL_FAILURE(
      StartAgent(agent_env, ExecStartOf(kDeploy / "systemd/cwb-agent.service", agent_env), "unit-agent"));

  // A client over TLS with the client token sees the agent; the web side wants the token.
  std::ofstream(dir_ / "client.token") << coordinator_env.at("CWB_CLIENT_TOKEN");
  const std::string agents = MustRun({CWB_CLI_BINARY, "--coordinator", address_, "--tls-ca",
                                      (root_ / "etc/cwb/tls/server.pem").string(), "--token-file",
                                      (dir_ / "client.token").string(), "agents"});
  EXPECT_THAT(agents, HasSubstr("unit-agent"));
  EXPECT_EQ(HttpGet(http_, "/metrics").status, 401);
  EXPECT_EQ(HttpGet(http_, "/metrics", {{"Authorization", "Bearer " + coordinator_env.at("CWB_CLIENT_TOKEN")}}).status, 200);
  StopAll();
}

TEST_F(DeployStartTest, KubernetesCommandsServeWithATokenPerRoleAndOpenMetrics) {
  // The Secret's keys as the files the coordinator's volume mount makes.
  const YAML::Node secret = YAML::LoadFile((kDeploy / "kubernetes/secret.example.yaml").string());
  fs::create_directories(root_ / "etc/cwb/tokens");
  for (const auto& entry : secret["stringData"]) {
    std::ofstream(root_ / "etc/cwb/tokens" / entry.first.as<std::string>()) << entry.second.as<std::string>();
  }
  std::vector<YAML::Node> docs = YAML::LoadAllFromFile((kDeploy / "kubernetes/coordinator.yaml").string());
  YAML::Node container;
  for (const YAML::Node& doc : docs) {
    if (doc["kind"].as<std::string>() == "Deployment") container = doc["spec"]["template"]["spec"]["containers"][0];
  }
  ASSERT_TRUE(container.IsDefined());
  std::vector<std::string> argv = {"cwb-coordinator"};
  for (const std::string& arg : Strings(container["args"])) argv.push_back(arg);
  ASSERT_NO_FATAL_FAILURE(StartCoordinator({}, argv));

  // The agent DaemonSet's args and environment (the Secret's agent-token, the node's name).
  const YAML::Node daemonset = YAML::LoadFile((kDeploy / "kubernetes/agent-daemonset.yaml").string());
  const YAML::Node agent = daemonset["spec"]["template"]["spec"]["containers"][0];
  Env agent_env;
  for (const YAML::Node& var : agent["env"]) {
    const std::string name = var["name"].as<std::string>();
    if (!var["valueFrom"]) continue;  // DOCKER_HOST: the node's engine socket
    if (var["valueFrom"]["secretKeyRef"]) {
      agent_env[name] = secret["stringData"][var["valueFrom"]["secretKeyRef"]["key"].as<std::string>()].as<std::string>();
    } else if (var["valueFrom"]["fieldRef"]) {
      agent_env[name] = "gpu-node-1";
    }
  }
  ASSERT_EQ(agent_env.count("CWB_AGENT_TOKEN"), 1u);
  std::vector<std::string> agent_argv = {"cwb-agent"};
  for (std::string arg : Strings(agent["args"])) {
    agent_argv.push_back(std::regex_replace(arg, std::regex("\\$\\(NODE_NAME\\)"), agent_env["NODE_NAME"]));
  }
  ASSERT_NO_FATAL_FAILURE(StartAgent(agent_env, agent_argv, "gpu-node-1"));

  // Prometheus scrapes /metrics with no token; everything else wants the role it needs.
  const auto bearer = [&](const std::string& key) {
    return std::map<std::string, std::string>{{"Authorization", "Bearer " + secret["stringData"][key].as<std::string>()}};
  };
  const HttpAnswer metrics = HttpGet(http_, "/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_THAT(metrics.body, HasSubstr("cwb_agents_connected 1"));
  EXPECT_EQ(HttpGet(http_, "/").status, 401);
  EXPECT_EQ(HttpGet(http_, "/simple/").status, 401);
  EXPECT_EQ(HttpGet(http_, "/simple/", bearer("read-token")).status, 200);
  EXPECT_EQ(HttpGet(http_, "/api/agents", bearer("ci-token")).status, 200);
  EXPECT_EQ(HttpGet(http_, "/api/agents", bearer("agent-token")).status, 403);
  StopAll();
}

TEST_F(DeployStartTest, ComposeCommandsServe) {
  const YAML::Node services = YAML::LoadFile((kDeploy / "compose.yaml").string())["services"];
  const Env tokens = {{"CWB_CLIENT_TOKEN", "compose-client-token"}, {"CWB_AGENT_TOKEN", "compose-agent-token"}};
  std::vector<std::string> argv = {"cwb-coordinator"};
  for (const std::string& arg : Strings(services["coordinator"]["command"])) argv.push_back(arg);
  ASSERT_NO_FATAL_FAILURE(StartCoordinator(tokens, argv));
  for (const char* name : {"agent-1", "agent-2"}) {
    std::vector<std::string> agent_argv = {"cwb-agent"};
    for (const std::string& arg : Strings(services[name]["command"])) agent_argv.push_back(arg);
    ASSERT_NO_FATAL_FAILURE(StartAgent({{"CWB_AGENT_TOKEN", tokens.at("CWB_AGENT_TOKEN")}}, agent_argv, name));
  }
  EXPECT_EQ(HttpGet(http_, "/api/agents", {{"Authorization", "Bearer compose-client-token"}}).status, 200);
  StopAll();
}

}  // namespace
}  // namespace cwb
