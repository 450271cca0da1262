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
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "common/rpc/task_proto.h"
#include "common/rpc/task_state.h"
#include "cwb/v1/client.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/child_process.h"
#include "tests/support/http_get.h"
#include "tests/support/prometheus_text.h"
#include "tests/integration/test_env.h"
#include "tests/integration/web_fixture.h"

namespace cwb {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using namespace cwb::testing;
using std::chrono::seconds;

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

  ASSERT_NO_FATAL_FAILURE(StartServers(3));
  const std::string& http = http_;

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
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << ToJson(build) << agent_->Output();
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
  EXPECT_THAT(dom, HasSubstr("href=\"/install\""));  // the pip lines, a click away
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
  const HttpAnswer agent_scrape = HttpGet(agent_metrics_, "/metrics");
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
  // The page for people: each variant's exact pip line, which (with the token in the URL, as the
  // page says) installs the same wheel.
  const HttpAnswer install = HttpGet(http, "/install", bearer);
  ASSERT_EQ(install.status, 200);
  std::smatch line;
  const std::string install_page = install.body;
  ASSERT_TRUE(std::regex_search(install_page, line,
                                std::regex("pip install --index-url http://([^/]+)(/simple/cpu-torch2.4-flavorok/) (\\S+)\n")))
      << install_page;
  EXPECT_EQ(line[1].str(), http);
  EXPECT_EQ(line[3].str(), "cwb-demo-pure");
  std::string from_page;
  PipInstall(absl::StrCat("http://cwb:", kToken, "@", line[1].str(), line[2].str()), line[3].str(), &from_page);
  EXPECT_EQ(from_page, "0.1.0+betaok");

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
  StopServers();
}

// Release-grade wheels through the whole system: local version labels, a smoke test that one
// project's wheel fails, a combination no PyTorch release supports; then the coverage of the build
// from the coordinator (CLI, JSON and Markdown routes, the dashboard) and of the fetched wheelhouse.
TEST_F(WebTest, CoverageOfALabelledSmokeTestedBuildMatchesItsWheels) {
  const fs::path pure = MakeRepositoryFrom(dir_, "examples/demo-pure-package", "pure");
  std::ofstream(dir_ / "release.yaml") << absl::StrCat(
      "output_dir_host: out\n"
      "build_matrix:\n"
      "  python_version: [\"", version_, "\"]\n"
      "  cuda_version: [cpu]\n"
      "  pytorch_version: [\"2.4\", \"2.9\"]\n"
      "pytorch_compatibility: {\"2.9\": {python: [\"3.14\"], cuda: [\"13.0\"]}}\n"
      "local_version: true\n"
      "projects:\n"
      "  - name: tested\n"
      "    repo_url: ", pure.string(), "\n"
      "    build_command: &build pip wheel . --no-deps --no-build-isolation -w \"$CWB_OUT\"\n"
      "    test_command: python -c 'import cwb_demo_pure; print(cwb_demo_pure.greet(\"smoke\"))'\n"
      "  - name: broken\n"
      "    repo_url: ", pure.string(), "\n"
      "    build_command: *build\n"
      "    test_command: python -c 'raise SystemExit(\"this wheel does not work\")'\n"
      "pytorch_base_images: {\"2.4\": {cpu: unused-by-the-host-runtime}}\n");
  ASSERT_NO_FATAL_FAILURE(StartServers(2));
  ChildProcess submit(Cli({"submit", (dir_ / "release.yaml").string(), "--watch"}));
  EXPECT_EQ(submit.Wait(seconds(240)), 1) << submit.Output();  // one task failed its smoke test
  const std::string build_id = submit.WaitForLine("build (b\\w+)", seconds(1));
  ASSERT_FALSE(build_id.empty()) << submit.Output();
  EXPECT_THAT(submit.Output(), HasSubstr("PyTorch 2.9 has no wheels for Python " + version_));

  // From the coordinator: the built cell with its labelled wheel, the failed one with the smoke
  // test's verdict, the unsupported one with the table's reason.
  const std::string wheel = "cwb_demo_pure-0.1.0+cputorch2.4-py3-none-any.whl";
  ChildProcess cli(Cli({"coverage", (dir_ / "release.yaml").string(), "--build", build_id, "--json"}));
  EXPECT_EQ(cli.Wait(seconds(30)), 1) << cli.Output();
  v1::CoverageReport report;
  ASSERT_TRUE(FromJson(cli.Output(), &report).ok()) << cli.Output();
  ASSERT_EQ(report.cells_size(), 3) << cli.Output();
  EXPECT_EQ(report.cells(0).project(), "tested");
  EXPECT_EQ(report.cells(0).status(), v1::COVERAGE_STATUS_BUILT);
  EXPECT_THAT(report.cells(0).wheels(), ::testing::ElementsAre("wheelhouse/py" + absl::StrReplaceAll(version_, {{".", ""}}) +
                                                               "/cudacpu/any/" + wheel));
  EXPECT_EQ(report.cells(1).project(), "broken");
  EXPECT_EQ(report.cells(1).status(), v1::COVERAGE_STATUS_FAILED);
  EXPECT_EQ(report.cells(1).reason(), "the smoke test failed: the test command exited with status 1");
  EXPECT_EQ(report.cells(2).status(), v1::COVERAGE_STATUS_UNSUPPORTED);
  EXPECT_THAT(report.cells(2).reason(), HasSubstr("PyTorch 2.9 has no wheels for Python " + version_));

  // The same report over HTTP, its Markdown linking the wheel the store serves.
  const std::map<std::string, std::string> bearer = {{"Authorization", absl::StrCat("Bearer ", kToken)}};
  const HttpAnswer json = HttpGet(http_, absl::StrCat("/api/builds/", build_id, "/coverage"), bearer);
  ASSERT_EQ(json.status, 200);
  v1::CoverageReport served;
  ASSERT_TRUE(FromJson(json.body, &served).ok()) << json.body;
  served.set_config_name(report.config_name());  // the coordinator knows the config by the name submitted
  EXPECT_EQ(ToJson(served), ToJson(report));
  const HttpAnswer markdown = HttpGet(http_, absl::StrCat("/api/builds/", build_id, "/coverage.md"), bearer);
  ASSERT_EQ(markdown.status, 200);
  const std::string link = absl::StrCat("/files/", build_id, "/", report.cells(0).task_id(), "/", wheel);
  EXPECT_THAT(markdown.body, HasSubstr("[✅](" + link));
  EXPECT_THAT(markdown.body, HasSubstr("**1 of 2** cells built, 1 failed, 0 missing; 1 combination(s)"));
  EXPECT_EQ(HttpGet(http_, link, bearer).status, 200);
  // The wheel that failed its smoke test was never published: the index has the tested one only.
  const HttpAnswer index = HttpGet(http_, "/simple/cpu-torch2.4/cwb-demo-pure/", bearer);
  ASSERT_EQ(index.status, 200);
  EXPECT_THAT(index.body, HasSubstr(link.substr(1) + "#sha256="));
  const std::regex listed("\\.whl#sha256=");
  EXPECT_EQ(std::distance(std::sregex_iterator(index.body.begin(), index.body.end(), listed), std::sregex_iterator()), 1)
      << index.body;

  // The dashboard shows the same cells and totals.
  const std::string dom = DashboardDom("#build=" + build_id);
  EXPECT_THAT(dom, HasSubstr("1 of 2 cells built, 1 failed, 0 missing, 1 unsupported"));
  for (const char* status : {"BUILT", "FAILED", "UNSUPPORTED"}) {
    EXPECT_THAT(dom, HasSubstr(absl::StrCat("data-coverage=\"", status, "\""))) << dom;
  }
  EXPECT_THAT(dom, HasSubstr("the smoke test failed: the test command exited with status 1"));
  EXPECT_THAT(dom, HasSubstr(absl::StrCat("href=\"", link, "\"")));
  EXPECT_THAT(dom, HasSubstr("<th>gate</th>"));
  EXPECT_THAT(dom, HasSubstr("<td>built</td><td>passed (pure)</td>"));  // the release gate's word
  EXPECT_THAT(dom, HasSubstr("<td>failed</td><td>passed (pure)</td>"));

  // Fetched, the wheelhouse has its manifest; coverage reads it there, and pip installs the
  // labelled wheel from the static index.
  ChildProcess fetch(Cli({"fetch", build_id, "-o", (dir_ / "out").string(), "--index"}));
  EXPECT_EQ(fetch.Wait(seconds(120)), 1) << fetch.Output();
  EXPECT_TRUE(fs::exists(dir_ / "out/wheelhouse/cwb-results.json"));
  ChildProcess local(Cli({"coverage", (dir_ / "release.yaml").string()}));
  EXPECT_EQ(local.Wait(seconds(30)), 1) << local.Output();
  EXPECT_THAT(local.Output(), ::testing::ContainsRegex("tested +" + version_ + " +cpu +2.4 +built +passed \\(pure\\) +" +
                                                       std::regex_replace(wheel, std::regex(R"([.+])"), R"(\$&)")));
  EXPECT_THAT(local.Output(), ::testing::ContainsRegex("broken +" + version_ + " +cpu +2.4 +failed +passed \\(pure\\) +the smoke test failed"));
  EXPECT_THAT(local.Output(), HasSubstr("1 of 2 cells built, 1 failed, 0 missing, 1 unsupported"));
  ChildProcess readme(Cli({"coverage", (dir_ / "release.yaml").string(), "--markdown"}));
  readme.Wait(seconds(30));
  const std::string readme_text = readme.Output();
  std::smatch found;
  ASSERT_TRUE(std::regex_search(readme_text, found, std::regex(R"(\[✅\]\(([^ )]+))"))) << readme_text;
  EXPECT_TRUE(fs::exists(dir_ / "out" / found[1].str())) << found[1].str();  // relative to the wheelhouse's parent
  std::string version;
  PipInstall(absl::StrCat("file://", (dir_ / "out/simple/cpu-torch2.4/").string()), "cwb-demo-pure", &version);
  EXPECT_EQ(version, "0.1.0+cputorch2.4");
  StopServers();
}

}  // namespace
}  // namespace cwb

namespace cwb {
namespace {

// The numbers of the "line N" lines of a log text, in order.
std::vector<int> LineNumbers(const std::string& text) {
  std::vector<int> numbers;
  const std::regex line(R"(\[build\] line (\d+) x)");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), line); it != std::sregex_iterator(); ++it) {
    numbers.push_back(std::stoi((*it)[1]));
  }
  return numbers;
}

// The release gate's word in the dashboard's coverage table: a C extension calling closefrom
// (GLIBC_2.34) retagged to the manylinux policy the gate found, and the same asked for
// manylinux_2_28, refused, the reason shown over the cell; as the coverage JSON has them.
TEST_F(WebTest, TheCoverageTableShowsTheReleaseGatesTagOrItsRefusal) {
  const fs::path probe = MakeRepositoryFrom(dir_, "tests/fixtures/glibc-probe", "probe");
  std::ofstream(dir_ / "gate.yaml") << absl::StrCat(
      "build_target: {python_version: \"", version_, "\", cuda_version: cpu, pytorch_version: \"2.4\"}\n"
      "projects:\n"
      "  - name: tagged\n"
      "    repo_url: ", probe.string(), "\n"
      "    build_command: &build pip wheel . --no-deps --no-build-isolation -w \"$CWB_OUT\"\n"
      "    platform_tag: manylinux\n"
      "  - name: refused\n"
      "    repo_url: ", probe.string(), "\n"
      "    build_command: *build\n"
      "    platform_tag: manylinux_2_28\n"
      "pytorch_base_images: {\"2.4\": {cpu: unused-by-the-host-runtime}}\n");
  ASSERT_NO_FATAL_FAILURE(StartServers(2));
  ChildProcess submit(Cli({"submit", (dir_ / "gate.yaml").string(), "--watch"}));
  EXPECT_EQ(submit.Wait(seconds(240)), 1) << submit.Output();  // the refused one failed
  const std::string build_id = submit.WaitForLine("build (b\\w+)", seconds(1));
  ASSERT_FALSE(build_id.empty()) << submit.Output();

  const std::map<std::string, std::string> bearer = {{"Authorization", absl::StrCat("Bearer ", kToken)}};
  const HttpAnswer json = HttpGet(http_, absl::StrCat("/api/builds/", build_id, "/coverage"), bearer);
  ASSERT_EQ(json.status, 200);
  v1::CoverageReport report;
  ASSERT_TRUE(FromJson(json.body, &report).ok()) << json.body;
  ASSERT_EQ(report.cells_size(), 2) << json.body;
  const v1::AuditSummary& tagged = report.cells(0).audit();
  const v1::AuditSummary& refused = report.cells(1).audit();
  ASSERT_TRUE(tagged.passed()) << json.body;
  ASSERT_EQ(tagged.platform_tags_size(), 1) << json.body;
  EXPECT_TRUE(std::regex_match(tagged.platform_tags(0), std::regex("manylinux_2_3[4-9]_x86_64"))) << json.body;
  EXPECT_FALSE(refused.passed());
  EXPECT_THAT(refused.problem(), HasSubstr("platform_tag manylinux_2_28 refused: "));

  const std::string dom = DashboardDom("#build=" + build_id);
  EXPECT_THAT(dom, HasSubstr("<th>gate</th>"));
  EXPECT_THAT(dom, HasSubstr(absl::StrCat("<td>built</td><td>passed ", tagged.platform_tags(0), "</td>"))) << dom;
  // The refusal, with its reason over it (the DOM escapes what the reason's quotes would need).
  EXPECT_TRUE(std::regex_search(dom, std::regex(R"re(<td>failed</td><td title="platform_tag manylinux_2_28 refused: [^"]*GLIBC_2\.34 \(closefrom\)[^"]*">refused</td>)re")))
      << dom;
  StopServers();
}

TEST_F(WebTest, ALongLogOpensAtItsEndAndLoadsEarlierLinesOnDemand) {
  constexpr int kLines = 200000;  // about 20 MB of log
  const fs::path pure = MakeRepositoryFrom(dir_, "examples/demo-pure-package", "pure");
  std::ofstream(dir_ / "long.yaml") << absl::StrCat(
      "build_target: {python_version: \"", version_, "\", cuda_version: cpu, pytorch_version: \"2.4\"}\n"
      "projects:\n"
      "  - name: chatty\n"
      "    repo_url: ", pure.string(), "\n"
      "    build_command: python -c \"[print('line %d x' % i + 'x' * 80) for i in range(", kLines, ")]\"; exit 1\n"
      "pytorch_base_images: {\"2.4\": {cpu: unused-by-the-host-runtime}}\n");
  ASSERT_NO_FATAL_FAILURE(StartServers(1));
  ChildProcess submit(Cli({"submit", (dir_ / "long.yaml").string(), "--watch"}));
  submit.Wait(seconds(300));
  const std::string build_id = submit.WaitForLine("build (b\\w+)", seconds(1));
  ASSERT_FALSE(build_id.empty()) << submit.Output();
  const v1::BuildInfo build = Status(build_id);
  ASSERT_EQ(build.tasks_size(), 1);
  const std::string task = build.tasks(0).spec().id();
  const std::map<std::string, std::string> bearer = {{"Authorization", absl::StrCat("Bearer ", kToken)}};

  // Headless Chromium opens the log view: the end of the log is there at once, its beginning is
  // not, and the view knows where its lines start.
  const std::string dom = DashboardDom(absl::StrCat("#build=", build_id, "&log=", task));
  std::smatch start_match;
  ASSERT_TRUE(std::regex_search(dom, start_match, std::regex(R"re(<pre id="log" data-log-start="(\d+)">)re")))
      << dom.substr(0, 4000);
  const uint64_t shown_start = std::stoull(start_match[1]);
  EXPECT_GT(shown_start, 10u << 20);  // the view starts past the log's first 10 MB
  const std::vector<int> shown = LineNumbers(dom);
  ASSERT_FALSE(shown.empty());
  EXPECT_EQ(shown.back(), kLines - 1);
  EXPECT_GT(shown.front(), kLines - 2100);  // the last 2000 lines (and cwb's own)
  EXPECT_TRUE(std::regex_search(dom, std::regex(R"re(<button id="log-earlier" type="button">Load earlier lines \(\d+ KiB)re")))
      << "the button to load earlier lines is not shown";

  // What the button loads: whole lines ending where the view starts, back to the first line.
  std::vector<int> all = shown;
  uint64_t start = shown_start;
  int requests = 0;
  while (start > 0 && ++requests < 1000) {
    const HttpAnswer earlier =
        HttpGet(http_, absl::StrCat("/api/logs/", build_id, "/", task, "?before=", start), bearer);
    ASSERT_EQ(earlier.status, 200) << earlier.body;
    EXPECT_EQ(earlier.headers.at("X-Log-Next-Offset"), absl::StrCat(start));
    ASSERT_FALSE(earlier.body.empty());
    EXPECT_EQ(earlier.body.back(), '\n');
    EXPECT_TRUE(std::regex_search(earlier.body, std::regex("^\\d{4}-\\d\\d-\\d\\dT")))
        << earlier.body.substr(0, 200);  // a whole line begins it
    std::vector<int> before = LineNumbers(earlier.body);
    before.insert(before.end(), all.begin(), all.end());
    all = std::move(before);
    start = std::stoull(earlier.headers.at("X-Log-Start-Offset"));
  }
  ASSERT_EQ(all.size(), static_cast<size_t>(kLines));
  for (int i = 0; i < kLines; ++i) ASSERT_EQ(all[i], i);  // each line once, in order
  StopServers();
}

}  // namespace
}  // namespace cwb

namespace cwb {
namespace {

// A real ninja build of 40 steps: its "[N/M]" lines become the task's progress, with a time left,
// in `cwb status`, the build's JSON the dashboard reads, the dashboard itself and /metrics.
TEST_F(WebTest, ARealNinjaBuildsProgressIsShownWhileItRuns) {
  const fs::path pure = MakeRepositoryFrom(dir_, "examples/demo-pure-package", "pure");
  const fs::path release = dir_ / "release";
  std::ofstream(dir_ / "ninja.yaml") << absl::StrCat(
      "build_target: {python_version: \"", version_, "\", cuda_version: cpu, pytorch_version: \"2.4\"}\n"
      "projects:\n"
      "  - name: steps\n"
      "    repo_url: ", pure.string(), "\n"
      "    build_command: |\n"
      "      printf 'rule step\\n  command = sleep 0.05 && touch $out\\n' > build.ninja\n"
      "      for i in $(seq 1 40); do printf 'build s%d: step\\n' $i >> build.ninja; done\n"
      "      printf 'rule wait\\n  command = while [ ! -e ", release.string(), " ]; do sleep 0.1; done; touch $out\\n' >> build.ninja\n"
      "      printf 'build s41: wait\\n' >> build.ninja\n"
      "      ninja -j1\n"
      "      pip wheel . --no-deps --no-build-isolation -w \"$CWB_OUT\"\n"
      "pytorch_base_images: {\"2.4\": {cpu: unused-by-the-host-runtime}}\n");
  ASSERT_NO_FATAL_FAILURE(StartServers(1));
  ChildProcess submit(Cli({"submit", (dir_ / "ninja.yaml").string()}));
  ASSERT_EQ(submit.Wait(seconds(60)), 0) << submit.Output();
  const std::string build_id = submit.WaitForLine("build (b\\w+)", seconds(1));

  // The 40 quick steps are done and the last one waits: 40 of 41.
  v1::TaskInfo task;
  const auto deadline = std::chrono::steady_clock::now() + seconds(120);
  do {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    task = Status(build_id).tasks(0);
  } while (task.progress().done() < 40 && std::chrono::steady_clock::now() < deadline);
  EXPECT_EQ(task.state(), v1::TASK_STATE_RUNNING);
  EXPECT_EQ(task.progress().done(), 40u);
  EXPECT_EQ(task.progress().total(), 41u);
  EXPECT_GE(task.progress().left_ms(), 0);  // never built: from its own pace

  ChildProcess table(Cli({"status", build_id}));
  table.Wait(seconds(30));
  EXPECT_THAT(table.Output(), ::testing::ContainsRegex("running +web-agent +[0-9]+s +97% 40/41 ~[0-9]+s left"));

  const std::map<std::string, std::string> bearer = {{"Authorization", absl::StrCat("Bearer ", kToken)}};
  const HttpAnswer scraped = HttpGet(http_, "/metrics", bearer);
  EXPECT_THAT(scraped.body, HasSubstr(absl::StrCat("cwb_task_progress_ratio{build=\"", build_id, "\",task=\"",
                                                   task.spec().id(), "\"} 0.97")));
  EXPECT_THAT(scraped.body, HasSubstr(absl::StrCat("cwb_task_seconds_left{build=\"", build_id, "\"")));

  const std::string dom = DashboardDom("#build=" + build_id, 3000);
  EXPECT_TRUE(std::regex_search(dom, std::regex(R"re(<div class="progress">97% 40/41 ~\d+s left</div>)re")))
      << "no progress in the dashboard's cell";

  std::ofstream(release) << "go";
  ChildProcess watch(Cli({"watch", build_id}));
  EXPECT_EQ(watch.Wait(seconds(120)), 0) << watch.Output();
  EXPECT_EQ(Status(build_id).tasks(0).progress().total(), 0u);  // ended: no progress any more
  StopServers();
}

}  // namespace
}  // namespace cwb
