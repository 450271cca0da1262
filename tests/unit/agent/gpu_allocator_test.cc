// Slot-to-GPU assignment: which GPUs each attempt gets, waiting for a free one, the arch list.
#include "agent/gpu_allocator.h"

#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cwb {
namespace {

using ::testing::ElementsAre;

std::vector<GpuInfo> Gpus(std::vector<std::string> caps) {
  std::vector<GpuInfo> gpus;
  for (size_t i = 0; i < caps.size(); ++i) {
    gpus.push_back({static_cast<int>(i), "GPU-" + std::to_string(i), "NVIDIA H100 80GB HBM3",
                    80ull << 30, caps[i]});
  }
  return gpus;
}

TEST(GpuAllocatorTest, EachGpuTaskGetsAGpuOfItsOwn) {
  GpuAllocator allocator(Gpus({"9.0", "9.0"}), 1);
  EXPECT_EQ(allocator.gpu_slots(), 2);
  absl::StatusOr<GpuGrant> a = allocator.Acquire("a1", true, nullptr);
  absl::StatusOr<GpuGrant> b = allocator.Acquire("a2", true, nullptr);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->request.kind, GpuRequest::Kind::kDevices);
  EXPECT_THAT(a->request.devices, ElementsAre("0"));
  EXPECT_THAT(b->request.devices, ElementsAre("1"));
  EXPECT_EQ(b->gpus.at(0).uuid, "GPU-1");
  // A freed GPU goes to the next task; CPU tasks never take one.
  allocator.Release("a1");
  absl::StatusOr<GpuGrant> cpu = allocator.Acquire("a3", false, nullptr);
  EXPECT_EQ(cpu->request.kind, GpuRequest::Kind::kNone);
  absl::StatusOr<GpuGrant> c = allocator.Acquire("a4", true, nullptr);
  EXPECT_THAT(c->request.devices, ElementsAre("0"));
}

TEST(GpuAllocatorTest, SeveralGpusPerTask) {
  GpuAllocator allocator(Gpus({"8.0", "8.0", "9.0", "9.0", "9.0"}), 2);
  EXPECT_EQ(allocator.gpu_slots(), 2);
  EXPECT_THAT(allocator.Acquire("a1", true, nullptr)->request.devices, ElementsAre("0", "1"));
  EXPECT_THAT(allocator.Acquire("a2", true, nullptr)->request.devices, ElementsAre("2", "3"));
  GpuAllocator too_few(Gpus({"9.0"}), 2);
  EXPECT_EQ(too_few.gpu_slots(), 0);
  EXPECT_EQ(too_few.Acquire("a1", true, nullptr).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(GpuAllocatorTest, SharedModeGivesEveryTaskAllGpus) {
  GpuAllocator allocator(Gpus({"9.0", "9.0"}), 0);
  EXPECT_EQ(allocator.gpu_slots(), 0);
  for (const char* attempt : {"a1", "a2", "a3"}) {
    absl::StatusOr<GpuGrant> grant = allocator.Acquire(attempt, true, nullptr);
    EXPECT_EQ(grant->request.kind, GpuRequest::Kind::kAll);
    EXPECT_EQ(grant->gpus.size(), 2u);
  }
  GpuAllocator none({}, 1);
  EXPECT_EQ(none.Acquire("a1", true, nullptr)->request.kind, GpuRequest::Kind::kNone);
}

TEST(GpuAllocatorTest, WaitsForAFreeGpuAndStopsWaitingWhenCancelled) {
  GpuAllocator allocator(Gpus({"9.0"}), 1);
  ASSERT_TRUE(allocator.Acquire("old", true, nullptr).ok());
  // The abandoned attempt still holds the GPU: the new one waits for it (a rendezvous).
  absl::StatusOr<GpuGrant> waited;
  std::thread waiter([&] { waited = allocator.Acquire("new", true, nullptr); });
  allocator.Release("old");
  waiter.join();
  ASSERT_TRUE(waited.ok());
  EXPECT_THAT(waited->request.devices, ElementsAre("0"));

  Cancellation cancel;
  absl::StatusOr<GpuGrant> cancelled;
  std::thread blocked([&] { cancelled = allocator.Acquire("third", true, &cancel); });
  cancel.Cancel("the coordinator cancelled it");
  blocked.join();
  EXPECT_EQ(cancelled.status().code(), absl::StatusCode::kCancelled);
  EXPECT_THAT(cancelled.status().message(), ::testing::HasSubstr("the coordinator cancelled it"));
}

TEST(GpuAllocatorTest, ArchListAndDescription) {
  EXPECT_EQ(CudaArchList(Gpus({"9.0", "8.0", "9.0", "8.6"})), "8.0;8.6;9.0");
  EXPECT_EQ(CudaArchList(Gpus({"10.0", "9.0"})), "9.0;10.0");
  EXPECT_EQ(CudaArchList(Gpus({"", "[N/A]"})), "");
  GpuAllocator allocator(Gpus({"9.0", "9.0"}), 1);
  allocator.Acquire("a1", true, nullptr).IgnoreError();
  EXPECT_EQ(DescribeGpus(*allocator.Acquire("a2", true, nullptr)),
            "1 (NVIDIA H100 80GB HBM3, sm 9.0, GPU-1)");
  EXPECT_EQ(DescribeGpus({GpuRequest::None(), {}}), "none");
  EXPECT_THAT(DescribeGpus({GpuRequest::All(), Gpus({"9.0"})}), ::testing::EndsWith("(all of the host's)"));
}

}  // namespace
}  // namespace cwb
