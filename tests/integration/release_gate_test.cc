// The release gate with real wheels, built by `cwb build` in podman containers: the C++ torch
// fixture against Debian's torch passes and is retagged to its manylinux policy; the same fixture
// built with the other C++ string ABI is refused, naming the symbol its import fails on; a C
// module needing a newer GLIBC than the platform_tag asked for is refused the tag; simplejson from
// its git tag gets manylinux_2_X, X read by this test from `readelf -V` of its module.
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/rpc/task_proto.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/child_process.h"
#include "tests/integration/test_env.h"

namespace cwb::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using std::chrono::seconds;

constexpr char kPipWheel[] = "pip wheel . --no-deps --no-build-isolation -w \"$CWB_OUT\"";


std::vector<fs::path> WheelsUnder(const fs::path& dir) {
  std::vector<fs::path> wheels;
  std::error_code error;
  for (fs::recursive_directory_iterator it(dir, error), end; !error && it != end; it.increment(error)) {
    if (it->path().extension() == ".whl") wheels.push_back(it->path());
  }
  std::sort(wheels.begin(), wheels.end());
  return wheels;
}

v1::WheelhouseManifest Results(const fs::path& out) {
  std::stringstream text;
  text << std::ifstream(out / "wheelhouse" / "cwb-results.json").rdbuf();
  v1::WheelhouseManifest manifest;
  EXPECT_TRUE(FromJson(text.str(), &manifest).ok()) << text.str();
  return manifest;
}

const v1::TaskInfo* ResultOf(const v1::WheelhouseManifest& manifest, const std::string& project) {
  for (const v1::TaskInfo& task : manifest.tasks()) {
    if (task.spec().project() == project) return &task;
  }
  ADD_FAILURE() << "no result for " << project;
  return nullptr;
}

// The attempt logs `cwb build` kept under `out`, concatenated.
std::string AgentLogs(const fs::path& out) {
  std::string logs;
  std::error_code error;
  for (fs::recursive_directory_iterator it(out / ".cwb" / "agent" / "logs", error), end; !error && it != end;
       it.increment(error)) {
    if (it->path().extension() != ".log") continue;
    std::stringstream text;
    text << std::ifstream(it->path()).rdbuf();
    logs += text.str();
  }
  return logs;
}

// The newest GLIBC_2.X the wheel's one shared object needs, as `readelf -V` lists its version
// needs, and never below 5 (the oldest manylinux x86_64 has).
unsigned GlibcMinorByReadelf(const fs::path& wheel, const fs::path& scratch) {
  const fs::path module = scratch / "module.so";
  MustRun({"python3", "-c",
           "import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); "
           "n = [m for m in z.namelist() if m.endswith('.so')]; assert len(n) == 1, n; "
           "open(sys.argv[2], 'wb').write(z.read(n[0]))",
           wheel.string(), module.string()});
  const std::string versions = MustRun({"readelf", "-V", "--wide", module.string()});
  unsigned newest = 5;
  const std::regex glibc(R"(Name: GLIBC_2\.([0-9]+))");
  for (std::sregex_iterator it(versions.begin(), versions.end(), glibc), end; it != end; ++it) {
    newest = std::max(newest, static_cast<unsigned>(std::stoul((*it)[1].str())));
  }
  return newest;
}

std::string TorchConfig(const fs::path& dir, const fs::path& repo) {
  return absl::StrCat(
      "build_target: {python_version: \"3.11\", cuda_version: cpu, pytorch_version: \"1.13\"}\n"
      "output_dir_host: ", (dir / "out").string(), "\n"
      "apt_packages: [python3-torch, libtorch-dev, pybind11-dev, ninja-build, g++]\n"
      "env: {MAX_JOBS: 2}\n"
      "projects:\n"
      "  - name: torch-demo\n"
      "    repo_url: ", repo.string(), "\n"
      "    build_command: ", kPipWheel, "\n"
      "    platform_tag: manylinux\n"
      "    test_command: python -c \"import torch, cwb_torch_demo as m; print(m.row_norms(torch.tensor([[3.0, 4.0]])))\"\n"
      "  - name: torch-demo-old-abi\n"
      "    repo_url: ", repo.string(), "\n"
      "    build_command: ", kPipWheel, "\n"
      "    env: {CWB_TORCH_DEMO_OLD_ABI: \"1\"}\n"
      "pytorch_base_images: {\"1.13\": {cpu: \"", kBaseImage, "\"}}\n");
}

TEST(ReleaseGateTest, TheTorchExtensionPassesAndIsRetaggedAndTheOtherStringAbiIsRefused) {
  if (!PodmanReady()) GTEST_SKIP() << "podman or the base image is not available";
  const fs::path dir = TestDir("gate_torch");
  const fs::path repo = MakeRepositoryFrom(dir, "tests/fixtures/torch-extension", "torchext");
  std::ofstream(dir / "torch.yaml") << TorchConfig(dir, repo);
  ChildProcess build({CWB_CLI_BINARY, "build", (dir / "torch.yaml").string(), "--network", "host"});
  EXPECT_EQ(build.Wait(seconds(1200)), 1) << build.Output();  // the old-ABI cell fails

  const v1::WheelhouseManifest results = Results(dir / "out");
  const v1::TaskInfo* passed = ResultOf(results, "torch-demo");
  const v1::TaskInfo* refused = ResultOf(results, "torch-demo-old-abi");
  ASSERT_TRUE(passed != nullptr && refused != nullptr);

  // Passed, retagged to the policy the audit found; the smoke test installed and imported it.
  EXPECT_EQ(passed->state(), v1::TASK_STATE_SUCCEEDED) << passed->message();
  EXPECT_TRUE(passed->audit().passed());
  EXPECT_EQ(passed->audit().elf_files(), 1u);
  EXPECT_GT(passed->audit().symbols_checked(), 100u);
  EXPECT_THAT(passed->audit().target(), HasSubstr("torch 1.13"));
  ASSERT_EQ(passed->audit().platform_tags_size(), 1);
  EXPECT_TRUE(std::regex_match(passed->audit().platform_tags(0), std::regex("manylinux_2_[0-9]+_x86_64")))
      << passed->audit().platform_tags(0);
  const std::vector<fs::path> wheels = WheelsUnder(dir / "out" / "wheelhouse");
  ASSERT_EQ(wheels.size(), 1u);
  EXPECT_THAT(wheels[0].filename().string(), HasSubstr(absl::StrCat("-cp311-cp311-", passed->audit().platform_tags(0), ".whl")));
  // libstdc++'s versions are in the policy: the newest GLIBCXX it needs raises X above glibc's.
  EXPECT_GE(GlibcMinorByReadelf(wheels[0], dir), 5u);

  // Refused: the import would fail on the old-ABI std::string overload torch does not define.
  EXPECT_EQ(refused->state(), v1::TASK_STATE_FAILED);
  EXPECT_THAT(refused->message(), HasSubstr("the release gate refused the wheels: undefined symbol: "
                                            "c10::detail::torchCheckFail(char const*, char const*, unsigned int, "
                                            "std::string const&)"));
  EXPECT_THAT(refused->message(), HasSubstr("checked against torch 1.13"));
  EXPECT_FALSE(refused->audit().passed());
  const std::string logs = AgentLogs(dir / "out");
  EXPECT_THAT(logs, HasSubstr("[audit]   undefined symbol: c10::detail::torchCheckFail(char const*, char const*, "
                              "unsigned int, std::string const&) (_ZN3c106detail14torchCheckFailEPKcS2_jRKSs)"));
  EXPECT_TRUE(std::regex_search(logs, std::regex(R"(needs libc10\.so\.[0-9.]+ \(torch /usr/lib/)"))) << logs;

  // `cwb audit` on this machine, whose Python has no torch: the torch libraries are not found.
  ChildProcess audit({CWB_CLI_BINARY, "audit", wheels[0].string(), "--torch", "/usr/bin/python3"});
  EXPECT_EQ(audit.Wait(seconds(60)), 1) << audit.Output();
  EXPECT_TRUE(std::regex_search(audit.Output(), std::regex(R"(library libc10\.so\.[0-9.]+ not found)"))) << audit.Output();
  std::error_code ignored;
  fs::remove_all(dir, ignored);
}

TEST(ReleaseGateTest, AModuleNeedingANewerGlibcIsRefusedTheTagItAsksFor) {
  if (!PodmanReady()) GTEST_SKIP() << "podman or the base image is not available";
  const fs::path dir = TestDir("gate_glibc");
  const fs::path repo = MakeRepositoryFrom(dir, "tests/fixtures/glibc-probe", "probe");  // closefrom: GLIBC_2.34
  std::ofstream(dir / "glibc.yaml") << absl::StrCat(
      "build_target: {python_version: \"3.11\", cuda_version: cpu, pytorch_version: \"2.4.0\"}\n"
      "output_dir_host: ", (dir / "out").string(), "\n"
      "projects:\n"
      "  - name: probe-2-28\n"
      "    repo_url: ", repo.string(), "\n"
      "    build_command: ", kPipWheel, "\n"
      "    platform_tag: manylinux_2_28\n"
      "  - name: probe-oldest\n"
      "    repo_url: ", repo.string(), "\n"
      "    build_command: ", kPipWheel, "\n"
      "    platform_tag: manylinux\n"
      "    test_command: python -c \"import glibc_probe; glibc_probe.close_from(1000)\"\n"
      "pytorch_base_images: {\"2.4.0\": {cpu: \"", kBaseImage, "\"}}\n");
  ChildProcess build({CWB_CLI_BINARY, "build", (dir / "glibc.yaml").string(), "--network", "host"});
  EXPECT_EQ(build.Wait(seconds(600)), 1) << build.Output();

  const v1::WheelhouseManifest results = Results(dir / "out");
  const v1::TaskInfo* refused = ResultOf(results, "probe-2-28");
  const v1::TaskInfo* oldest = ResultOf(results, "probe-oldest");
  ASSERT_TRUE(refused != nullptr && oldest != nullptr);
  EXPECT_EQ(refused->state(), v1::TASK_STATE_FAILED);
  EXPECT_THAT(refused->message(), HasSubstr("platform_tag manylinux_2_28 refused: "));
  EXPECT_THAT(refused->message(), HasSubstr("needs manylinux_2_34 (GLIBC_2.34 (closefrom) of libc.so.6, needed by glibc_probe"));
  // Its symbols resolve; the tag is what it cannot have, and the gate's summary says so.
  EXPECT_FALSE(refused->audit().passed());
  EXPECT_THAT(refused->audit().problem(), HasSubstr("platform_tag manylinux_2_28 refused"));

  EXPECT_EQ(oldest->state(), v1::TASK_STATE_SUCCEEDED) << oldest->message();
  const std::vector<fs::path> wheels = WheelsUnder(dir / "out" / "wheelhouse");
  ASSERT_EQ(wheels.size(), 1u);
  const unsigned minor = GlibcMinorByReadelf(wheels[0], dir);
  EXPECT_GE(minor, 34u);
  EXPECT_THAT(wheels[0].filename().string(), HasSubstr(absl::StrCat("-manylinux_2_", minor, "_x86_64.whl")));
  std::error_code ignored;
  fs::remove_all(dir, ignored);
}

// simplejson's source comes from its git repository (CWB_TEST_SIMPLEJSON_REPO: a clone or bare
// repository of github.com/simplejson/simplejson); nothing here can reach GitHub, PyPI or Debian's
// source packages to fetch it.
TEST(ReleaseGateTest, SimplejsonFromItsGitTagGetsTheManylinuxTagReadelfGives) {
  if (!PodmanReady()) GTEST_SKIP() << "podman or the base image is not available";
  const char* source = std::getenv("CWB_TEST_SIMPLEJSON_REPO");
  if (source == nullptr || !fs::exists(source)) {
    GTEST_SKIP() << "CWB_TEST_SIMPLEJSON_REPO names no simplejson repository";
  }
  const fs::path dir = TestDir("gate_simplejson");
  std::ofstream(dir / "simplejson.yaml") << absl::StrCat(
      "build_target: {python_version: \"3.11\", cuda_version: cpu, pytorch_version: \"2.4.0\"}\n"
      "output_dir_host: ", (dir / "out").string(), "\n"
      "platform_tag: manylinux\n"
      "projects:\n"
      "  - name: simplejson\n"
      "    repo_url: ", source, "\n"
      "    repo_ref: v3.19.3\n"
      "    build_command: ", kPipWheel, "\n"
      "    env: {REQUIRE_SPEEDUPS: \"1\"}\n"
      "    test_command: python -c \"import simplejson, simplejson._speedups; print(simplejson.dumps([1, 2.5]))\"\n"
      "pytorch_base_images: {\"2.4.0\": {cpu: \"", kBaseImage, "\"}}\n");
  ChildProcess build({CWB_CLI_BINARY, "build", (dir / "simplejson.yaml").string(), "--network", "host"});
  ASSERT_EQ(build.Wait(seconds(600)), 0) << build.Output();
  const std::vector<fs::path> wheels = WheelsUnder(dir / "out" / "wheelhouse");
  ASSERT_EQ(wheels.size(), 1u);
  const unsigned minor = GlibcMinorByReadelf(wheels[0], dir);
  EXPECT_EQ(wheels[0].filename().string(), absl::StrCat("simplejson-3.19.3-cp311-cp311-manylinux_2_", minor, "_x86_64.whl"));
  const v1::TaskInfo* result = ResultOf(Results(dir / "out"), "simplejson");
  ASSERT_NE(result, nullptr);
  EXPECT_TRUE(result->audit().passed());
  std::error_code ignored;
  fs::remove_all(dir, ignored);
}

}  // namespace
}  // namespace cwb::testing
