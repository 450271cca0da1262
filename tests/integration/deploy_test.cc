// deploy/: every manifest parses and carries the fields that matter (ports that match the flags,
// the tokens from secrets or environment files, the volume at the data directory, the GPU
// request, the engine socket), every flag the files pass exists in the real binaries' --help,
// and the images of deploy/images/ build and run (podman, from the local base image).
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/child_process.h"
#include "tests/integration/test_env.h"
#include "tests/support/http_get.h"
#include "tests/support/prometheus_text.h"

namespace cwb {
namespace {

namespace fs = std::filesystem;
using ::testing::Contains;
using ::testing::HasSubstr;
using namespace cwb::testing;
using std::chrono::seconds;

const fs::path kDeploy = fs::path(CWB_SOURCE_DIR) / "deploy";

std::string ReadText(const fs::path& path) {
  std::stringstream text;
  text << std::ifstream(path).rdbuf();
  return text.str();
}

// The documents of a multi-document YAML file, by kind.
std::map<std::string, YAML::Node> ByKind(const fs::path& file) {
  std::map<std::string, YAML::Node> kinds;
  for (const YAML::Node& doc : YAML::LoadAllFromFile(file.string())) {
    EXPECT_TRUE(doc["apiVersion"] && doc["kind"] && doc["metadata"]["name"]) << file;
    kinds[doc["kind"].as<std::string>()] = doc;
  }
  return kinds;
}

std::vector<std::string> Strings(const YAML::Node& list) {
  std::vector<std::string> out;
  for (const YAML::Node& item : list) out.push_back(item.as<std::string>());
  return out;
}

// "--flag" names in `args` (values after "=" dropped).
std::set<std::string> Flags(const std::vector<std::string>& args) {
  std::set<std::string> flags;
  const std::regex flag(R"((--[a-z][a-z0-9-]*))");
  for (const std::string& arg : args) {
    for (auto it = std::sregex_iterator(arg.begin(), arg.end(), flag); it != std::sregex_iterator(); ++it) {
      flags.insert((*it)[1]);
    }
  }
  return flags;
}

void ExpectFlagsKnown(const std::set<std::string>& flags, std::vector<std::string> help_argv, const std::string& where) {
  help_argv.push_back("--help");
  const std::string help = MustRun(help_argv);
  for (const std::string& flag : flags) {
    EXPECT_NE(help.find(flag), std::string::npos) << where << " passes " << flag << ", which " << help_argv[0] << " lacks";
  }
}

std::string SecretKeyOf(const YAML::Node& env, const std::string& name) {
  for (const YAML::Node& var : env) {
    if (var["name"].as<std::string>() == name) return var["valueFrom"]["secretKeyRef"]["key"].as<std::string>();
  }
  return "";
}

TEST(DeployTest, KubernetesCoordinatorHasItsVolumeServiceAndTokens) {
  std::map<std::string, YAML::Node> docs = ByKind(kDeploy / "kubernetes/coordinator.yaml");
  ASSERT_TRUE(docs.count("Deployment") && docs.count("Service") && docs.count("PersistentVolumeClaim"));
  const YAML::Node deployment = docs["Deployment"];
  EXPECT_EQ(deployment["spec"]["replicas"].as<int>(), 1);  // one SQLite writer
  EXPECT_EQ(deployment["spec"]["strategy"]["type"].as<std::string>(), "Recreate");
  const YAML::Node pod = deployment["spec"]["template"]["spec"];
  const YAML::Node container = pod["containers"][0];
  const std::vector<std::string> args = Strings(container["args"]);
  EXPECT_THAT(args, Contains("--listen=0.0.0.0:7600"));
  EXPECT_THAT(args, Contains("--http-listen=0.0.0.0:8080"));
  EXPECT_THAT(args, Contains("--data-dir=/var/lib/cwb"));
  ExpectFlagsKnown(Flags(args), {CWB_COORDINATOR_BINARY}, "coordinator.yaml");
  // Each token a file of the Secret, mounted read-only where the flags point.
  EXPECT_THAT(args, Contains("--client-token-file=/etc/cwb/tokens/admin-token"));
  EXPECT_THAT(args, Contains("--agent-token-file=/etc/cwb/tokens/agent-token"));
  EXPECT_THAT(args, Contains("--public-metrics"));  // the scrape annotations carry no token
  std::map<std::string, int> ports;
  for (const YAML::Node& port : container["ports"]) ports[port["name"].as<std::string>()] = port["containerPort"].as<int>();
  EXPECT_EQ(ports, (std::map<std::string, int>{{"grpc", 7600}, {"http", 8080}}));
  // The claim is mounted where --data-dir points.
  const std::string claim = docs["PersistentVolumeClaim"]["metadata"]["name"].as<std::string>();
  EXPECT_EQ(pod["volumes"][0]["persistentVolumeClaim"]["claimName"].as<std::string>(), claim);
  EXPECT_EQ(container["volumeMounts"][0]["name"].as<std::string>(), pod["volumes"][0]["name"].as<std::string>());
  EXPECT_EQ(container["volumeMounts"][0]["mountPath"].as<std::string>(), "/var/lib/cwb");
  // The Service selects the pods and exposes both ports by name.
  const YAML::Node service = docs["Service"];
  EXPECT_EQ(service["spec"]["selector"]["app.kubernetes.io/name"].as<std::string>(),
            deployment["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"].as<std::string>());
  std::set<std::string> targets;
  for (const YAML::Node& port : service["spec"]["ports"]) targets.insert(port["targetPort"].as<std::string>());
  EXPECT_EQ(targets, (std::set<std::string>{"grpc", "http"}));
  // The secret the pods read exists (as the example), with a key for every token file named.
  const std::map<std::string, YAML::Node> secret = ByKind(kDeploy / "kubernetes/secret.example.yaml");
  EXPECT_EQ(container["volumeMounts"][1]["mountPath"].as<std::string>(), "/etc/cwb/tokens");
  EXPECT_EQ(pod["volumes"][1]["secret"]["secretName"].as<std::string>(),
            secret.at("Secret")["metadata"]["name"].as<std::string>());
  for (const std::string& arg : args) {
    const size_t at = arg.find("/etc/cwb/tokens/");
    if (at == std::string::npos) continue;
    EXPECT_TRUE(secret.at("Secret")["stringData"][arg.substr(at + 16)]) << arg;
  }
}

TEST(DeployTest, KubernetesAgentsRunOnGpuNodesThroughTheNodesEngine) {
  std::map<std::string, YAML::Node> docs = ByKind(kDeploy / "kubernetes/agent-daemonset.yaml");
  ASSERT_TRUE(docs.count("DaemonSet"));
  const YAML::Node pod = docs["DaemonSet"]["spec"]["template"]["spec"];
  EXPECT_EQ(pod["nodeSelector"]["nvidia.com/gpu.present"].as<std::string>(), "true");
  const YAML::Node container = pod["containers"][0];
  EXPECT_GT(container["resources"]["limits"]["nvidia.com/gpu"].as<int>(), 0);
  const std::vector<std::string> args = Strings(container["args"]);
  EXPECT_EQ(args.front(), "serve");
  EXPECT_THAT(args, Contains("--coordinator=cwb-coordinator.cwb.svc:7600"));
  EXPECT_THAT(args, Contains("--runtime=docker"));
  ExpectFlagsKnown(Flags(args), {CWB_AGENT_BINARY, "serve"}, "agent-daemonset.yaml");
  EXPECT_EQ(SecretKeyOf(container["env"], "CWB_AGENT_TOKEN"), "agent-token");
  // The engine's socket is mounted where DOCKER_HOST points, and the work directory is the same
  // path on the node and in the pod (the engine resolves bind mounts on the node).
  std::map<std::string, std::string> mounts, host_paths;
  for (const YAML::Node& mount : container["volumeMounts"]) mounts[mount["name"].as<std::string>()] = mount["mountPath"].as<std::string>();
  for (const YAML::Node& volume : pod["volumes"]) host_paths[volume["name"].as<std::string>()] = volume["hostPath"]["path"].as<std::string>();
  std::string docker_host;
  for (const YAML::Node& var : container["env"]) {
    if (var["name"].as<std::string>() == "DOCKER_HOST") docker_host = var["value"].as<std::string>();
  }
  EXPECT_EQ(docker_host, "unix://" + mounts.at("engine-socket"));
  EXPECT_EQ(host_paths.at("engine-socket"), mounts.at("engine-socket"));
  EXPECT_EQ(host_paths.at("work"), mounts.at("work"));
  EXPECT_THAT(args, Contains("--work-dir=" + mounts.at("work")));
}

TEST(DeployTest, ComposeStartsACoordinatorAndTwoAgents) {
  const YAML::Node compose = YAML::LoadFile((kDeploy / "compose.yaml").string());
  const YAML::Node services = compose["services"];
  ASSERT_TRUE(services["coordinator"] && services["agent-1"] && services["agent-2"]);
  ExpectFlagsKnown(Flags(Strings(services["coordinator"]["command"])), {CWB_COORDINATOR_BINARY}, "compose coordinator");
  std::set<std::string> work_dirs;
  for (const char* name : {"agent-1", "agent-2"}) {
    const YAML::Node agent = services[name];
    const std::vector<std::string> command = Strings(agent["command"]);
    ExpectFlagsKnown(Flags(command), {CWB_AGENT_BINARY, "serve"}, name);
    EXPECT_THAT(command, Contains("--coordinator=coordinator:7600"));
    EXPECT_THAT(Strings(agent["depends_on"]), Contains("coordinator"));
    std::string work_dir;
    for (const std::string& arg : command) {
      if (arg.starts_with("--work-dir=")) work_dir = arg.substr(11);
    }
    work_dirs.insert(work_dir);
    EXPECT_THAT(Strings(agent["volumes"]), Contains(work_dir + ":" + work_dir)) << name;
    EXPECT_TRUE(agent["environment"]["CWB_AGENT_TOKEN"]) << name;
  }
  EXPECT_EQ(work_dirs.size(), 2u);  // each agent its own work directory
  EXPECT_TRUE(services["coordinator"]["environment"]["CWB_CLIENT_TOKEN"]);
}

// systemd units: [Unit]/[Service]/[Install], the environment file, restarts, and ExecStart's
// binary and flags.
std::map<std::string, std::map<std::string, std::string>> ParseUnit(const fs::path& file) {
  std::map<std::string, std::map<std::string, std::string>> sections;
  std::string section, pending;
  std::istringstream in(ReadText(file));
  std::string line;
  while (std::getline(in, line)) {
    if (!pending.empty()) line = pending + line;
    pending.clear();
    if (!line.empty() && line.back() == '\\') {
      pending = line.substr(0, line.size() - 1);
      continue;
    }
    if (line.empty() || line[0] == '#') continue;
    if (line[0] == '[') {
      section = line.substr(1, line.find(']') - 1);
      continue;
    }
    const size_t equals = line.find('=');
    EXPECT_NE(equals, std::string::npos) << file << ": " << line;
    if (equals != std::string::npos) sections[section][line.substr(0, equals)] = line.substr(equals + 1);
  }
  return sections;
}

TEST(DeployTest, SystemdUnitsReadTheirTokensAndRestart) {
  for (const auto& [unit, binary, env] : {std::tuple{"cwb-coordinator.service", CWB_COORDINATOR_BINARY, "coordinator.env.example"},
                                          std::tuple{"cwb-agent.service", CWB_AGENT_BINARY, "agent.env.example"}}) {
    auto sections = ParseUnit(kDeploy / "systemd" / unit);
    ASSERT_TRUE(sections.count("Unit") && sections.count("Service") && sections.count("Install")) << unit;
    EXPECT_EQ(sections["Install"]["WantedBy"], "multi-user.target");
    EXPECT_THAT(sections["Service"]["Restart"], ::testing::AnyOf("on-failure", "always"));
    const std::string env_file = sections["Service"]["EnvironmentFile"];
    EXPECT_EQ(env_file, "/etc/cwb/" + std::string(env).substr(0, std::string(env).find(".example")));
    const std::string example = ReadText(kDeploy / "systemd" / env);
    const std::string token = std::string(unit) == "cwb-agent.service" ? "CWB_AGENT_TOKEN=" : "CWB_CLIENT_TOKEN=";
    EXPECT_THAT(example, HasSubstr(token)) << env;
    const std::string exec = sections["Service"]["ExecStart"];
    const std::string program = exec.substr(0, exec.find(' '));
    EXPECT_EQ(fs::path(program).filename(), fs::path(binary).filename()) << exec;
    std::vector<std::string> help = {binary};
    if (std::string(unit) == "cwb-agent.service") help.push_back("serve");
    ExpectFlagsKnown(Flags({exec}), help, unit);
  }
}

// --log-format json: every line the servers print is one JSON object with time, level, program
// and msg (what the text line said) and the event's fields.
TEST(DeployTest, ServersLogJsonLinesWhenAsked) {
  const fs::path dir = TestDir("json_logs");
  ChildProcess coordinator({CWB_COORDINATOR_BINARY, "--listen", "127.0.0.1:0", "--data-dir", (dir / "c").string(),
                            "--log-format", "json"});
  const std::string address = coordinator.WaitForLine("\"address\":\"([^\"]+)\"", seconds(30));
  ASSERT_FALSE(address.empty()) << coordinator.Output();
  ChildProcess agent({CWB_AGENT_BINARY, "serve", "--coordinator", address, "--agent-id", "json-agent", "--work-dir",
                      (dir / "a").string(), "--runtime", "host", "--nvidia-smi", "/nonexistent", "--log-format", "json"});
  ASSERT_FALSE(agent.WaitForLine("(serving)", seconds(60)).empty()) << agent.Output();
  ASSERT_FALSE(coordinator.WaitForLine("(agent json-agent connected)", seconds(30)).empty()) << coordinator.Output();
  agent.Signal(SIGTERM);
  agent.Wait(seconds(30));
  coordinator.Signal(SIGTERM);
  coordinator.Wait(seconds(30));
  for (auto [process, program] : {std::pair{&coordinator, "cwb-coordinator"}, std::pair{&agent, "cwb-agent"}}) {
    std::vector<std::string> lines = absl::StrSplit(process->Output(), '\n', absl::SkipEmpty());
    ASSERT_FALSE(lines.empty());
    for (const std::string& line : lines) {
      google::protobuf::Struct event;
      ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(line, &event).ok()) << program << ": " << line;
      const auto& fields = event.fields();
      EXPECT_EQ(fields.at("program").string_value(), program) << line;
      EXPECT_THAT(fields.at("level").string_value(), ::testing::AnyOf("info", "warning", "error")) << line;
      EXPECT_TRUE(std::regex_match(fields.at("time").string_value(),
                                   std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")))
          << line;
      EXPECT_FALSE(fields.at("msg").string_value().empty()) << line;
    }
  }
  EXPECT_THAT(agent.Output(), HasSubstr("\"agent_id\":\"json-agent\""));
  EXPECT_TRUE(std::regex_search(coordinator.Output(),
                                std::regex(R"("msg":"agent json-agent connected: [0-9]+ slot\(s\), [0-9]+ core\(s\), )"
                                           R"([0-9]+ MiB( \(builds measured\))?, 0 GPU\(s\), runtime host")")))
      << coordinator.Output();
}

// The images build from the bundled binaries and run: the coordinator's serves /metrics.
TEST(DeployTest, ImagesBuildAndTheCoordinatorsServes) {
  if (!PodmanReady()) GTEST_SKIP() << "podman or the base image is not available";
  MustRun({"env", absl::StrCat("BASE=", kBaseImage), "CWB_BUILD_DIR=" CWB_BUILD_DIR,
           (fs::path(CWB_SOURCE_DIR) / "scripts/build-images.sh").string()});
  EXPECT_THAT(MustRun({"podman", "run", "--rm", "cwb-agent:latest", "--version"}), HasSubstr("cwb-agent"));
  EXPECT_THAT(MustRun({"podman", "run", "--rm", "--entrypoint", "docker", "cwb-agent:latest", "--version"}),
              HasSubstr("Docker version"));
  const std::string name = absl::StrCat("cwb-deploy-test-", ::getpid());
  ChildProcess coordinator({"podman", "run", "--rm", "--name", name, "--network", "host", "cwb-coordinator:latest",
                            "--listen=127.0.0.1:0", "--http-listen=127.0.0.1:0", "--data-dir=/tmp/cwb"});
  const std::string http = coordinator.WaitForLine("http on (\\S+)", seconds(60));
  ASSERT_FALSE(http.empty()) << coordinator.Output();
  const HttpAnswer metrics = HttpGet(http, "/metrics");
  EXPECT_EQ(metrics.status, 200);
  absl::StatusOr<Samples> samples = ParseExposition(metrics.body);
  ASSERT_TRUE(samples.ok()) << samples.status();
  EXPECT_EQ(samples->at("cwb_agents_connected"), 0);
  MustRun({"podman", "stop", "-t", "10", name});
  EXPECT_EQ(coordinator.Wait(seconds(30)), 0) << coordinator.Output();
}

}  // namespace
}  // namespace cwb
