// The coordinator's web side with real parts: a coordinator (client token on) with an HTTP
// listener, a host-runtime agent building real wheels with pip, and a build left with tasks
// succeeded, failed and running. Headless Chromium loads the dashboard, whose cells must show the
// build's real states (a screenshot is kept as a test artifact); /metrics of both servers is
// scraped and parsed; real pip installs a built wheel from the coordinator's variant index and
// from the static index `cwb fetch --index` writes.
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/task_proto.h"
#include "common/task_state.h"
#include "cwb/v1/client.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/child_process.h"
#include "tests/support/http_get.h"
#include "tests/support/prometheus_text.h"
#include "tests/integration/test_env.h"

namespace cwb {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using namespace cwb::testing;
using std::chrono::seconds;

constexpr char kToken[] = "web-test-token";

class WebTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TestDir("web");
    std::ofstream(dir_ / "token") << kToken;
    // The agent's toolchain: a venv of Debian's Python with a stand-in CPU-only torch 2.4.0.
    MustRun({"/usr/bin/python3", "-m", "venv", "--system-site-packages", (dir_ / "toolchain").string()});
    python_ = (dir_ / "toolchain/bin/python").string();
    const std::string site = MustRun({python_, "-c", "import site; print(site.getsitepackages()[0])"});
    fs::create_directories(fs::path(site) / "torch");
    std::ofstream(fs::path(site) / "torch" / "__init__.py") << "__version__ = '2.4.0+cpu'\nclass version:\n    cuda = None\n";
    version_ = MustRun({python_, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"});
    if (!version_.empty() && version_.back() == '\n') version_.pop_back();
  }

  std::vector<std::string> Cli(std::vector<std::string> args) {
    args.insert(args.begin(), {CWB_CLI_BINARY, "--coordinator", address_, "--token-file", (dir_ / "token").string()});
    return args;
  }

  v1::BuildInfo Status(const std::string& build_id) {
    ChildProcess json(Cli({"status", build_id, "--json"}));
    EXPECT_LE(json.Wait(seconds(30)), 1) << json.Output();  // 1: some task failed
    v1::BuildInfo build;
    EXPECT_TRUE(FromJson(json.Output(), &build).ok()) << json.Output();
    return build;
  }

  // Installs NAME with real pip from `index_url` into a fresh directory; returns pip's output and
  // sets `version` to what `pip list` shows there.
  std::string PipInstall(const std::string& index_url, const std::string& name, std::string* version) {
    const fs::path target = dir_ / absl::StrCat("site-", ++installs_);
    const std::string output = MustRun({"/usr/bin/python3", "-m", "pip", "install", "--no-deps", "--no-cache-dir",
                                        "--disable-pip-version-check", "--index-url", index_url, "--target",
                                        target.string(), name},
                                       {{"PIP_CONFIG_FILE", "/dev/null"}});
    const std::string listed = MustRun({"/usr/bin/python3", "-m", "pip", "list", "--path", target.string(),
                                        "--disable-pip-version-check", "--format", "freeze"},
                                       {{"PIP_CONFIG_FILE", "/dev/null"}});
    std::smatch match;
    const std::regex re(name + "==(\\S+)");
    if (std::regex_search(listed, match, re)) *version = match[1];
    return output;
  }

  fs::path dir_;
  std::string python_, version_, address_;
  int installs_ = 0;
};

// The states the dashboard's DOM shows, by task id (data-task / data-state of each cell).
std::map<std::string, std::string> CellStates(const std::string& dom) {
  std::map<std::string, std::string> states;
  const std::regex cell(R"re(data-task="([0-9a-z]+)" data-state="([A-Z]+)")re");
  for (auto it = std::sregex_iterator(dom.begin(), dom.end(), cell); it != std::sregex_iterator(); ++it) {
    states[(*it)[1]] = (*it)[2];
  }
  return states;
}

TEST_F(WebTest, DashboardIndexAndMetricsShowTheRealBuild) {
  const fs::path pure = MakeRepositoryFrom(dir_, "examples/demo-pure-package", "pure");
  const fs::path release = dir_ / "release";
  // 2 projects x 3 flavours: "ok" builds a wheel stamped with its project and flavour, "bad"
  // fails, "slow" runs until the test releases it.
  std::ofstream(dir_ / "web.yaml") << absl::StrCat(
      "build_matrix:\n"
      "  python_version: [\"", version_, "\"]\n"
      "  cuda_version: [cpu]\n"
      "  pytorch_version: [\"2.4\"]\n"
      "  flavor: [ok, bad, slow]\n"
      "projects:\n"
      "  - name: alpha\n"
      "    repo_url: ", pure.string(), "\n"
      "    build_command: &build |\n"
      "      if [ \"$FLAVOR\" = bad ]; then echo 'failing on purpose'; exit 3; fi\n"
      "      if [ \"$FLAVOR\" = slow ]; then while [ ! -e ", release.string(), " ]; do sleep 0.1; done; fi\n"
      "      sed -i \"s/^version = \\\"0.1.0\\\"/version = \\\"0.1.0+$CWB_PROJECT$FLAVOR\\\"/\" pyproject.toml\n"
      "      pip wheel . --no-deps --no-build-isolation -w \"$CWB_OUT\"\n"
      "  - name: beta\n"
      "    repo_url: ", pure.string(), "\n"
      "    build_command: *build\n"
      "pytorch_base_images: {\"2.4\": {cpu: unused-by-the-host-runtime}}\n");

  ChildProcess coordinator({"env", absl::StrCat("CWB_CLIENT_TOKEN=", kToken), CWB_COORDINATOR_BINARY, "--listen",
                            "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--data-dir",
                            (dir_ / "coordinator").string(), "--heartbeat-ms", "500"});
  address_ = coordinator.WaitForLine("listening on (\\S+)", seconds(30));
  const std::string http = coordinator.WaitForLine("http on (\\S+)", seconds(30));
  ASSERT_FALSE(address_.empty() || http.empty()) << coordinator.Output();
  ChildProcess agent({CWB_AGENT_BINARY, "serve", "--coordinator", address_, "--agent-id", "web-agent", "--work-dir",
                      (dir_ / "agent").string(), "--runtime", "host", "--host-python", python_, "--slots", "3",
                      "--nvidia-smi", "/nonexistent/nvidia-smi", "--metrics-listen", "127.0.0.1:0"});
  const std::string agent_metrics = agent.WaitForLine("metrics on (\\S+)", seconds(60));
  ASSERT_FALSE(agent_metrics.empty()) << agent.Output();

  ChildProcess submit(Cli({"submit", (dir_ / "web.yaml").string()}));
  ASSERT_EQ(submit.Wait(seconds(60)), 0) << submit.Output();
  const std::string build_id = submit.WaitForLine("build (b\\w+)", seconds(1));
  ASSERT_FALSE(build_id.empty()) << submit.Output();

  // Settled: the four quick tasks ended, both slow ones running (they wait for the release).
  v1::BuildInfo build;
  const auto deadline = std::chrono::steady_clock::now() + seconds(240);
  for (;;) {
    build = Status(build_id);
    int running = 0;
    for (const v1::TaskInfo& task : build.tasks()) running += task.state() == v1::TASK_STATE_RUNNING;
    if (build.succeeded() == 2 && build.failed() == 2 && running == 2) break;
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << ToJson(build) << agent.Output();
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  std::map<std::string, std::string> expected;
  for (const v1::TaskInfo& task : build.tasks()) {
    std::string state = StateName(task.state());
    for (char& c : state) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    expected[task.spec().id()] = state;
  }

  // Without the token nothing is served; with it as a bearer token, basic auth or ?token=, it is.
  EXPECT_EQ(HttpGet(http, "/").status, 401);
  EXPECT_EQ(HttpGet(http, "/api/builds").status, 401);
  EXPECT_EQ(HttpGet(http, "/metrics", {{"Authorization", "Bearer wrong"}}).status, 401);
  const std::map<std::string, std::string> bearer = {{"Authorization", absl::StrCat("Bearer ", kToken)}};
  EXPECT_EQ(HttpGet(http, "/api/builds", bearer).status, 200);
  EXPECT_EQ(HttpGet(http, "/api/agents", {{"Authorization", "Basic " + absl::Base64Escape(absl::StrCat("me:", kToken))}}).status, 200);

  // The dashboard in headless Chromium: every cell's state is the task's real state.
  const fs::path artifacts = CWB_TEST_ARTIFACT_DIR;
  fs::create_directories(artifacts);
  const std::string url = absl::StrCat("http://", http, "/?token=", kToken, "#build=", build_id);
  const std::vector<std::string> chromium = {"chromium", "--headless=new", "--no-sandbox", "--disable-gpu",
                                             "--disable-dev-shm-usage", "--no-first-run", "--window-size=1400,1000",
                                             absl::StrCat("--user-data-dir=", (dir_ / "chromium").string()),
                                             "--virtual-time-budget=5000"};
  std::vector<std::string> dump = chromium;
  dump.insert(dump.end(), {"--dump-dom", url});
  const std::string dom = MustRun(dump);
  EXPECT_THAT(dom, HasSubstr("data-ready=\"1\""));
  EXPECT_EQ(CellStates(dom), expected) << dom;
  EXPECT_THAT(dom, HasSubstr("data-agent=\"web-agent\""));
  EXPECT_THAT(dom, HasSubstr("alpha / py" + version_));
  EXPECT_THAT(dom, HasSubstr("cuda cpu, torch 2.4, flavor=slow"));
  std::vector<std::string> shot = chromium;
  const fs::path screenshot = artifacts / "dashboard.png";
  fs::remove(screenshot);
  shot.insert(shot.end(), {absl::StrCat("--screenshot=", screenshot.string()), url});
  MustRun(shot);
  ASSERT_TRUE(fs::exists(screenshot));
  EXPECT_GT(fs::file_size(screenshot), 10000u);
  std::string magic(8, '\0');
  std::ifstream(screenshot, std::ios::binary).read(magic.data(), 8);
  EXPECT_EQ(magic, std::string("\x89PNG\r\n\x1a\n", 8));

  // A task's live log, as the dashboard's log view reads it.
  std::string slow_task;
  for (const v1::TaskInfo& task : build.tasks()) {
    if (task.state() == v1::TASK_STATE_FAILED) {
      const HttpAnswer log = HttpGet(http, absl::StrCat("/api/logs/", build_id, "/", task.spec().id()), bearer);
      EXPECT_EQ(log.status, 200);
      EXPECT_THAT(log.body, HasSubstr("failing on purpose"));
      EXPECT_EQ(log.headers.at("X-Task-State"), "failed");
    }
  }

  // Metrics of the coordinator and the agent, parsed.
  const HttpAnswer scraped = HttpGet(http, "/metrics", bearer);
  ASSERT_EQ(scraped.status, 200);
  EXPECT_THAT(scraped.headers.at("Content-Type"), HasSubstr("version=0.0.4"));
  absl::StatusOr<Samples> metrics = ParseExposition(scraped.body);
  ASSERT_TRUE(metrics.ok()) << metrics.status() << "\n" << scraped.body;
  EXPECT_EQ(metrics->at("cwb_tasks{state=\"running\"}"), 2) << scraped.body;
  EXPECT_EQ(metrics->at("cwb_tasks{state=\"succeeded\"}"), 2);
  EXPECT_EQ(metrics->at("cwb_tasks{state=\"failed\"}"), 2);
  EXPECT_EQ(metrics->at("cwb_queue_length"), 0);
  EXPECT_EQ(metrics->at("cwb_agents_connected"), 1);
  EXPECT_EQ(metrics->at("cwb_queue_wait_seconds_count"), 6);
  EXPECT_EQ(metrics->at("cwb_build_duration_seconds_count{state=\"succeeded\"}"), 2);
  EXPECT_EQ(metrics->at("cwb_build_duration_seconds_count{state=\"failed\"}"), 2);
  EXPECT_GT(metrics->at("cwb_uploaded_bytes_total"), 0);
  EXPECT_EQ(metrics->at("cwb_result_cache_hits_total"), 0);
  const HttpAnswer agent_scrape = HttpGet(agent_metrics, "/metrics");
  absl::StatusOr<Samples> agent_samples = ParseExposition(agent_scrape.body);
  ASSERT_TRUE(agent_samples.ok()) << agent_samples.status() << "\n" << agent_scrape.body;
  EXPECT_EQ(agent_samples->at("cwb_agent_attempts_running"), 2) << agent_scrape.body;
  EXPECT_EQ(agent_samples->at("cwb_agent_attempts_total{outcome=\"succeeded\"}"), 2);
  EXPECT_EQ(agent_samples->at("cwb_agent_attempts_total{outcome=\"failed\"}"), 2);
  EXPECT_EQ(agent_samples->at("cwb_agent_uploaded_bytes_total"), metrics->at("cwb_uploaded_bytes_total"));

  // The variant index: pip installs the newest "ok" wheel (local labels order alpha < beta).
  const std::string index = absl::StrCat("http://pip:", kToken, "@", http, "/simple/cpu-torch2.4-flavorok/");
  std::string version;
  PipInstall(index, "cwb-demo-pure", &version);
  EXPECT_EQ(version, "0.1.0+betaok");
  const HttpAnswer page = HttpGet(http, "/simple/cpu-torch2.4-flavorok/cwb-demo-pure/", bearer);
  EXPECT_EQ(page.status, 200);
  EXPECT_THAT(page.body, HasSubstr("cwb_demo_pure-0.1.0+alphaok-py3-none-any.whl#sha256="));
  EXPECT_EQ(HttpGet(http, "/simple/cpu-torch2.4-flavorbad/cwb-demo-pure/", bearer).status, 404);
  EXPECT_EQ(HttpGet(http, "/simple/cwb-demo-pure/", bearer).status, 200);  // the index of everything

  // Released, the build ends; resubmitted, the "ok" tasks come from the result cache.
  std::ofstream(release) << "go\n";
  ChildProcess watch(Cli({"watch", build_id}));
  watch.Wait(seconds(240));
  EXPECT_EQ(Status(build_id).succeeded(), 4u);
  ChildProcess again(Cli({"submit", (dir_ / "web.yaml").string(), "--watch"}));
  again.Wait(seconds(240));
  const HttpAnswer rescraped = HttpGet(http, "/metrics", bearer);
  absl::StatusOr<Samples> after = ParseExposition(rescraped.body);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->at("cwb_result_cache_hits_total"), 4) << rescraped.body;

  // `cwb watch --json`: one event per line, the last saying the build finished.
  ChildProcess events(Cli({"watch", build_id, "--json"}));
  EXPECT_EQ(events.Wait(seconds(60)), 1) << events.Output();  // exit 1: two tasks failed
  std::vector<std::string> lines = absl::StrSplit(events.Output(), '\n', absl::SkipEmpty());
  ASSERT_FALSE(lines.empty());
  for (const std::string& line : lines) {
    v1::BuildEvent event;
    EXPECT_TRUE(FromJson(line, &event).ok()) << line;
  }
  v1::BuildEvent last;
  ASSERT_TRUE(FromJson(lines.back(), &last).ok());
  EXPECT_TRUE(last.build_finished()) << lines.back();

  // `cwb fetch --index`: a static index beside the wheelhouse that pip installs from.
  ChildProcess fetch(Cli({"fetch", build_id, "-o", (dir_ / "out").string(), "--index"}));
  EXPECT_EQ(fetch.Wait(seconds(120)), 1) << fetch.Output();  // exit 1: two tasks failed
  EXPECT_THAT(fetch.Output(), HasSubstr("pip index:"));
  PipInstall(absl::StrCat("file://", (dir_ / "out/simple/cpu-torch2.4-flavorslow/").string()), "cwb-demo-pure",
             &version);
  EXPECT_EQ(version, "0.1.0+betaslow");
  agent.Signal(SIGTERM);
  agent.Wait(seconds(60));
  coordinator.Signal(SIGTERM);
  coordinator.Wait(seconds(30));
}

}  // namespace
}  // namespace cwb
