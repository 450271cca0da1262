// A CUDA cell compiled with a real nvcc on this GPU-less machine: Debian's nvcc 11.8 in the shared
// toolchain image (scripts/make-toolchain-image.sh), the plain CUDA fixture extension
// (tests/fixtures/cuda-extension: a kernel and its CPython binding, no torch), built in a podman
// container by `cwb-agent run-task` and smoke-tested in a fresh one. Compiling needs no GPU; the
// wheel's module carries the kernel's device code (.nv_fatbin) and imports without a driver.
#include <filesystem>
#include <fstream>
#include <regex>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/child_process.h"
#include "tests/integration/test_env.h"

namespace cwb::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using std::chrono::seconds;

constexpr char kToolchainImage[] = "localhost/cwb-cuda-toolchain:11.8";

TEST(CudaBuildTest, ACudaCellCompilesWithARealNvccWithoutAGpuAndItsWheelImports) {
  if (!PodmanReady()) GTEST_SKIP() << "podman or the base image is not available";
  // Made once per machine (scripts/test.sh makes it first; idempotent here).
  MustRun({"bash", absl::StrCat(CWB_SOURCE_DIR, "/scripts/make-toolchain-image.sh")});
  const fs::path dir = TestDir("cuda_build");
  const fs::path repo = MakeRepositoryFrom(dir, "tests/fixtures/cuda-extension", "cuda");
  std::ofstream(dir / "cuda.yaml") << absl::StrCat(
      "build_target: {python_version: 3.11, cuda_version: 11.8, pytorch_version: 2.1}\n"
      "projects:\n"
      "  - name: cuda-demo\n"
      "    repo_url: ", repo.string(), "\n"
      "    build_command: pip wheel -v . --no-deps --no-build-isolation -w \"$CWB_OUT\"\n"
      "    env: {TORCH_CUDA_ARCH_LIST: \"7.5;8.0+PTX\"}\n"
      "    test_command: python -c \"import cwb_cuda_demo as m; print(\\\"devices\\\", m.device_count())\"\n"
      "pytorch_base_images: {\"2.1\": {\"11.8\": \"", kToolchainImage, "\"}}\n");
  ChildProcess plan({CWB_CLI_BINARY, "plan", "--json", (dir / "cuda.yaml").string()});
  ASSERT_EQ(plan.Wait(seconds(60)), 0) << plan.Output();
  std::ofstream(dir / "plan.json") << plan.Output();

  ChildProcess run({CWB_AGENT_BINARY, "run-task", (dir / "plan.json").string(), "--runtime", "podman", "--network",
                    "host", "--gpus", "none", "--work-dir", (dir / "work").string(), "-o", (dir / "out").string()});
  ASSERT_EQ(run.Wait(seconds(600)), 0) << run.Output();
  const std::string log = run.Output();
  EXPECT_THAT(log, HasSubstr("nvcc -c src/saxpy.cu"));
  EXPECT_THAT(log, HasSubstr("-gencode=arch=compute_75,code=sm_75 -gencode=arch=compute_80,code=sm_80 "
                             "-gencode=arch=compute_80,code=compute_80"));
  // The smoke test imported it in a fresh container without a GPU: the runtime says why it sees none.
  EXPECT_TRUE(std::regex_search(log, std::regex(R"(\[test\] devices -[0-9]+)"))) << log;
  EXPECT_TRUE(std::regex_search(log, std::regex(R"(the build used [0-9.]+ GiB of memory at most)"))) << log;

  std::vector<fs::path> wheels;
  for (const auto& entry : fs::recursive_directory_iterator(dir / "out" / "wheelhouse")) {
    if (entry.path().extension() == ".whl") wheels.push_back(entry.path());
  }
  ASSERT_EQ(wheels.size(), 1u);
  EXPECT_EQ(wheels[0].parent_path().parent_path().filename(), "cuda11.8");
  MustRun({"python3", "-c",
           "import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); "
           "n = [m for m in z.namelist() if m.endswith('.so')][0]; open(sys.argv[2], 'wb').write(z.read(n))",
           wheels[0].string(), (dir / "module.so").string()});
  const std::string sections = MustRun({"readelf", "-SW", (dir / "module.so").string()});
  EXPECT_THAT(sections, HasSubstr(".nv_fatbin"));  // the kernel's device code, for sm_75 and sm_80
  std::error_code ignored;
  fs::remove_all(dir, ignored);
}

}  // namespace
}  // namespace cwb::testing
