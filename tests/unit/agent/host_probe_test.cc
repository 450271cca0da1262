// GPU probe parsing, driver/CUDA compatibility, host resources and MAX_JOBS.
#include "absl/strings/str_split.h"
#include "agent/gpu_probe.h"
#include "common/config/versions.h"
#include "agent/host_resources.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/fake_process_runner.h"

namespace cwb {
namespace {

using testing::FakeProcessRunner;

constexpr char kH100Query[] =
    "0, GPU-5d3c8a8e-1f2b-4c5d-9e0f-123456789abc, NVIDIA H100 80GB HBM3, 81559, 570.86.15, 9.0\n"
    "1, GPU-6e4d9b9f-2a3c-5d6e-0f1a-23456789abcd, NVIDIA H100 80GB HBM3, 81559, 570.86.15, 9.0\n";
constexpr char kBanner[] =
    "+-----------------------------------------------------------------------------------------+\n"
    "| NVIDIA-SMI 570.86.15              Driver Version: 570.86.15      CUDA Version: 12.8     |\n";

TEST(GpuProbeTest, ParsesQueryOutput) {
  absl::StatusOr<GpuInventory> inventory = ParseGpuQuery(kH100Query);
  ASSERT_TRUE(inventory.ok()) << inventory.status();
  ASSERT_EQ(inventory->gpus.size(), 2u);
  EXPECT_EQ(inventory->gpus[1].index, 1);
  EXPECT_EQ(inventory->gpus[0].name, "NVIDIA H100 80GB HBM3");
  EXPECT_EQ(inventory->gpus[0].memory_bytes, 81559ull << 20);
  EXPECT_EQ(inventory->gpus[0].compute_capability, "9.0");
  EXPECT_EQ(inventory->gpus[0].uuid, "GPU-5d3c8a8e-1f2b-4c5d-9e0f-123456789abc");
  EXPECT_EQ(inventory->driver_version, "570.86.15");
  EXPECT_FALSE(ParseGpuQuery("garbage").ok());
  EXPECT_EQ(ParseDriverCudaVersion(kBanner), "12.8");
  EXPECT_EQ(ParseDriverCudaVersion("no banner"), "");
}

TEST(GpuProbeTest, ProbeRunsNvidiaSmiTwice) {
  FakeProcessRunner runner;
  runner.Script({{"nvidia-smi", "--query-gpu=index,uuid,name,memory.total,driver_version,compute_cap"},
                 absl::StrSplit(kH100Query, '\n', absl::SkipEmpty()), 0});
  runner.Script({{"nvidia-smi"}, absl::StrSplit(kBanner, '\n'), 0});
  absl::StatusOr<GpuInventory> inventory = ProbeGpus(runner);
  ASSERT_TRUE(inventory.ok()) << inventory.status();
  EXPECT_EQ(inventory->gpus.size(), 2u);
  EXPECT_EQ(inventory->cuda_version, "12.8");
}

TEST(GpuProbeTest, OldDriversWithoutComputeCapStillProbe) {
  FakeProcessRunner runner;
  runner.Script({{"nvidia-smi", "--query-gpu=index,uuid,name,memory.total,driver_version,compute_cap"},
                 {"Field \"compute_cap\" is not a valid field to query."}, 2});
  runner.Script({{"nvidia-smi", "--query-gpu=index,uuid,name,memory.total,driver_version"},
                 {"0, GPU-1, Tesla V100-SXM2-16GB, 16160, 470.82.01"}, 0});
  runner.Script({{"nvidia-smi"}, {"| NVIDIA-SMI 470.82.01  Driver Version: 470.82.01  CUDA Version: 11.4 |"}, 0});
  absl::StatusOr<GpuInventory> inventory = ProbeGpus(runner);
  ASSERT_TRUE(inventory.ok()) << inventory.status();
  ASSERT_EQ(inventory->gpus.size(), 1u);
  EXPECT_EQ(inventory->gpus[0].compute_capability, "");
  EXPECT_EQ(inventory->cuda_version, "11.4");
}

TEST(GpuProbeTest, HostsWithoutGpusReportNone) {
  FakeProcessRunner runner;
  runner.Script({{"nvidia-smi"}, {"No devices were found"}, 6});
  absl::StatusOr<GpuInventory> inventory = ProbeGpus(runner);
  ASSERT_TRUE(inventory.ok());
  EXPECT_TRUE(inventory->gpus.empty());

  class MissingBinary final : public ProcessRunner {
    absl::StatusOr<ProcessExit> Run(const ProcessSpec& spec, const LineCallback&, Cancellation*) override {
      return absl::NotFoundError("'" + spec.argv[0] + "' was not found on PATH");
    }
  } missing;
  inventory = ProbeGpus(missing);
  ASSERT_TRUE(inventory.ok());
  EXPECT_TRUE(inventory->gpus.empty());
}

TEST(GpuProbeTest, DriverSupportsCuda) {
  EXPECT_TRUE(DriverSupportsCuda("12.4", "12.1"));
  EXPECT_TRUE(DriverSupportsCuda("12.4", "12.4"));
  EXPECT_FALSE(DriverSupportsCuda("12.4", "12.6"));
  EXPECT_TRUE(DriverSupportsCuda("12.4", "11.8"));
  EXPECT_TRUE(DriverSupportsCuda("13.0", "12.10"));
  EXPECT_FALSE(DriverSupportsCuda("12.2", "12.10"));
  EXPECT_TRUE(DriverSupportsCuda("", "cpu"));
  EXPECT_FALSE(DriverSupportsCuda("", "12.1"));
}

TEST(VersionsTest, ReleaseMatchesComparesTheWrittenNumbers) {
  EXPECT_TRUE(ReleaseMatches("2.11", "2.11.0+cu130"));
  EXPECT_TRUE(ReleaseMatches("2.11.0", "2.11.0+cu130"));
  EXPECT_TRUE(ReleaseMatches("13.0", "13.0"));
  EXPECT_FALSE(ReleaseMatches("2.1", "2.11.0"));
  EXPECT_FALSE(ReleaseMatches("2.11.1", "2.11.0"));
  EXPECT_FALSE(ReleaseMatches("2.11.0.1", "2.11.0"));
  EXPECT_FALSE(ReleaseMatches("2.11", ""));
  EXPECT_FALSE(ReleaseMatches("", "2.11.0"));
  EXPECT_FALSE(ReleaseMatches("x.y", "2.11.0"));
}

TEST(HostResourcesTest, MemTotalAndMaxJobs) {
  EXPECT_EQ(ParseMemTotal("MemFree: 1 kB\nMemTotal:       24576000 kB\n").value(), 24576000ull * 1024);
  EXPECT_FALSE(ParseMemTotal("nothing").ok());
  EXPECT_EQ(DefaultMaxJobs({64, 32ull << 30}), 8);   // memory-bound
  EXPECT_EQ(DefaultMaxJobs({2, 24ull << 30}), 2);    // core-bound
  EXPECT_EQ(DefaultMaxJobs({8, 2ull << 30}), 1);     // never below one
  EXPECT_EQ(DefaultMaxJobs({8, 0}), 8);              // memory unknown
  HostResources here = ProbeHostResources();
  EXPECT_GE(here.cpu_cores, 1);
  EXPECT_GT(here.memory_bytes, 0u);
}

TEST(HostResourcesTest, SizesAndTheOperatorsLimits) {
  EXPECT_EQ(ParseByteSize("512M").value(), 512ull << 20);
  EXPECT_EQ(ParseByteSize("64G").value(), 64ull << 30);
  EXPECT_EQ(ParseByteSize("1.5GiB").value(), 3ull << 29);
  EXPECT_EQ(ParseByteSize("2 gb").value(), 2ull << 30);
  EXPECT_EQ(ParseByteSize("4096").value(), 4096u);
  EXPECT_EQ(ParseByteSize("12Q").status().message(), "'12Q': unknown unit (use K, M, G or T)");
  EXPECT_FALSE(ParseByteSize("G").ok());
  EXPECT_FALSE(ParseByteSize("99999999T").ok());

  const HostResources host{16, 128ull << 30};
  HostResources limited = LimitHostResources(host, {4, "600M"}).value();
  EXPECT_EQ(limited.cpu_cores, 4);
  EXPECT_EQ(limited.memory_bytes, 600ull << 20);
  EXPECT_EQ(LimitHostResources(host, {}).value().memory_bytes, host.memory_bytes);
  EXPECT_EQ(LimitHostResources(host, {32, ""}).status().message(), "--cores 32: this host lets builds use 1 to 16 cores");
  EXPECT_EQ(LimitHostResources(host, {0, "200G"}).status().message(),
            "--memory 200G: this host has 131072 MiB; give 64 MiB to all of it");
  EXPECT_EQ(LimitHostResources(host, {0, "lots"}).status().message(), "--memory 'lots' is not a size (e.g. 512M, 64G)");
}

}  // namespace
}  // namespace cwb
