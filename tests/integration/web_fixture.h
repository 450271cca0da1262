// WebTest: the coordinator's web side with real parts: a coordinator (client token on) with an
// HTTP listener and a host-runtime agent (a venv of Debian's Python with a stand-in torch) building
// real wheels with pip; the CLI to submit and ask; helpers for pip and the dashboard's DOM.
#pragma once

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/rpc/task_proto.h"
#include "cwb/v1/client.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/child_process.h"
#include "tests/integration/test_env.h"

namespace cwb::testing {

namespace fs = std::filesystem;
using std::chrono::seconds;

constexpr char kToken[] = "web-test-token";

class WebTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TestDir("web");
    std::ofstream(dir_ / "token") << kToken;
    // The agent's toolchain: a venv of Debian's Python with a stand-in CPU-only torch 2.4.0.
    python_ = MakeStandInToolchain(dir_ / "toolchain");
    version_ = MustRun({python_, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"});
    if (!version_.empty() && version_.back() == '\n') version_.pop_back();
  }

  // A coordinator (client token on, HTTP listener) and a host-runtime agent with `slots` slots.
  void StartServers(int slots) {
    coordinator_ = std::make_unique<ChildProcess>(std::vector<std::string>{
        "env", absl::StrCat("CWB_CLIENT_TOKEN=", kToken), CWB_COORDINATOR_BINARY, "--listen", "127.0.0.1:0",
        "--http-listen", "127.0.0.1:0", "--data-dir", (dir_ / "coordinator").string(), "--heartbeat-ms", "500"});
    address_ = coordinator_->WaitForLine("listening on (\\S+)", seconds(30));
    http_ = coordinator_->WaitForLine("http on (\\S+)", seconds(30));
    ASSERT_FALSE(address_.empty() || http_.empty()) << coordinator_->Output();
    agent_ = std::make_unique<ChildProcess>(std::vector<std::string>{
        CWB_AGENT_BINARY, "serve", "--coordinator", address_, "--agent-id", "web-agent", "--work-dir",
        (dir_ / "agent").string(), "--runtime", "host", "--host-python", python_, "--slots", std::to_string(slots),
        "--nvidia-smi", "/nonexistent/nvidia-smi", "--metrics-listen", "127.0.0.1:0"});
    agent_metrics_ = agent_->WaitForLine("metrics on (\\S+)", seconds(60));
    ASSERT_FALSE(agent_metrics_.empty()) << agent_->Output();
  }

  void StopServers() {
    agent_->Signal(SIGTERM);
    agent_->Wait(seconds(60));
    coordinator_->Signal(SIGTERM);
    coordinator_->Wait(seconds(30));
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

  // The dashboard's DOM at `fragment` ("#build=b12"), as headless Chromium has it after running its
  // scripts for `budget_ms` of virtual time.
  std::string DashboardDom(const std::string& fragment, int budget_ms = 5000) {
    return MustRun({"chromium", "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--no-first-run", absl::StrCat("--user-data-dir=", (dir_ / "chromium").string()),
                    absl::StrCat("--virtual-time-budget=", budget_ms), "--dump-dom",
                    absl::StrCat("http://", http_, "/?token=", kToken, fragment)});
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
  std::string python_, version_, address_, http_, agent_metrics_;
  std::unique_ptr<ChildProcess> coordinator_, agent_;
  int installs_ = 0;
};

// The states the dashboard's DOM shows, by task id (data-task / data-state of each cell).
inline std::map<std::string, std::string> CellStates(const std::string& dom) {
  std::map<std::string, std::string> states;
  const std::regex cell(R"re(data-task="([0-9a-z]+)" data-state="([A-Z]+)")re");
  for (auto it = std::sregex_iterator(dom.begin(), dom.end(), cell); it != std::sregex_iterator(); ++it) {
    states[(*it)[1]] = (*it)[2];
  }
  return states;
}

}  // namespace cwb::testing
