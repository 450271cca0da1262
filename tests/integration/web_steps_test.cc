// A CUDA cell built by an agent without a GPU, as the web side shows it while it waits for one to
// smoke-test it: headless Chromium sees the dashboard's cell "built, waiting for a GPU to test",
// the build's row counts it, the coverage calls the cell missing with why, and /metrics counts it
// by state and in the queue; nothing of it is in the pip index.
#include "absl/strings/str_cat.h"
#include "common/rpc/task_state.h"
#include "tests/support/http_get.h"
#include "tests/support/prometheus_text.h"
#include "tests/integration/web_fixture.h"

namespace cwb::testing {
namespace {

using ::testing::HasSubstr;

TEST_F(WebTest, ABuiltCellWaitingForAGpuIsShownSoAndIsInNoIndex) {
  const fs::path pure = MakeRepositoryFrom(dir_, "examples/demo-pure-package", "pure");
  // The host agent's toolchain has a (stand-in) CUDA 12.4 torch, and no GPU.
  python_ = MakeStandInToolchain(dir_ / "cuda-toolchain", "2.4.0+cu124", "'12.4'");
  std::ofstream(dir_ / "cuda.yaml") << absl::StrCat(
      "build_target: {python_version: \"", version_, "\", cuda_version: \"12.4\", pytorch_version: \"2.4\"}\n"
      "projects:\n"
      "  - name: cudacell\n"
      "    repo_url: ", pure.string(), "\n"
      "    build_command: pip wheel . --no-deps --no-build-isolation -w \"$CWB_OUT\"\n"
      "    test_command: python -c 'import cwb_demo_pure'\n"
      "pytorch_base_images: {\"2.4\": {\"12.4\": unused-by-the-host-runtime}}\n");
  ASSERT_NO_FATAL_FAILURE(StartServers(2));
  ChildProcess submit(Cli({"submit", (dir_ / "cuda.yaml").string()}));
  ASSERT_EQ(submit.Wait(seconds(60)), 0) << submit.Output();
  const std::string build_id = submit.WaitForLine("build (b\\w+)", seconds(1));
  ASSERT_FALSE(build_id.empty()) << submit.Output();
  v1::BuildInfo build;
  const auto deadline = std::chrono::steady_clock::now() + seconds(240);
  do {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    build = Status(build_id);
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << ToJson(build) << agent_->Output();
  } while (build.tasks(0).state() != v1::TASK_STATE_BUILT || !NoConnectedAgentCanRun(build.tasks(0)));
  const std::string task_id = build.tasks(0).spec().id();

  const std::string dom = DashboardDom("#build=" + build_id);
  EXPECT_THAT(dom, HasSubstr("data-ready=\"1\""));
  EXPECT_EQ(CellStates(dom), (std::map<std::string, std::string>{{task_id, "BUILT"}})) << dom;
  EXPECT_THAT(dom, HasSubstr("built, waiting for a GPU to test"));
  EXPECT_THAT(dom, HasSubstr("built, waiting for a GPU to test (its wheels are held back)"));  // coverage
  EXPECT_THAT(dom, HasSubstr("data-coverage=\"MISSING\""));

  const std::map<std::string, std::string> bearer = {{"Authorization", absl::StrCat("Bearer ", kToken)}};
  const HttpAnswer scraped = HttpGet(http_, "/metrics", bearer);
  ASSERT_EQ(scraped.status, 200);
  absl::StatusOr<Samples> metrics = ParseExposition(scraped.body);
  ASSERT_TRUE(metrics.ok()) << metrics.status() << "\n" << scraped.body;
  EXPECT_EQ(metrics->at("cwb_tasks{state=\"built\"}"), 1) << scraped.body;
  EXPECT_EQ(metrics->at("cwb_queue_length"), 1);
  // Held back: the coordinator's pip index and its files have no wheel of it.
  const HttpAnswer index = HttpGet(http_, "/simple/", bearer);
  EXPECT_EQ(index.status, 200);
  EXPECT_EQ(index.body.find("cwb-demo-pure"), std::string::npos) << index.body;
  EXPECT_EQ(HttpGet(http_, "/simple/cwb-demo-pure/", bearer).status, 404);
  ASSERT_EQ(build.tasks(0).held_artifacts_size(), 1);
  const std::string held = build.tasks(0).held_artifacts(0).filename();
  EXPECT_EQ(HttpGet(http_, absl::StrCat("/files/", build_id, "/", task_id, "/", held), bearer).status, 404);
  StopServers();
}

}  // namespace
}  // namespace cwb::testing
