#include "agent/container_argv.h"

#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cwb {
namespace {

using ::testing::ElementsAre;

EngineOptions Podman() { return {EngineKind::kPodman, "", "host", {"--security-opt", "label=disable"}, {}, true}; }
EngineOptions Docker() { return {EngineKind::kDocker, "/usr/local/bin/docker", "", {}, {}, false}; }

ContainerRunRequest Request() {
  ContainerRunRequest request;
  request.name = "cwb-0123456789abcdef-a1";
  request.image = "wheel-builder:py3.10-cuda12.1-abc";
  request.command = {"/bin/sh", "/cwb/ctl/build.sh"};
  request.env = {{"MAX_JOBS", "4"}, {"TORCH_CUDA_ARCH_LIST", "8.0;9.0 $(rm -rf /)"}};
  request.mounts = {{"/w/src", "/cwb/src", false}, {"/w/ctl", "/cwb/ctl", true}};
  request.workdir = "/cwb/src";
  request.labels = {{"cwb.task", "0123456789abcdef"}};
  return request;
}

TEST(ContainerArgvTest, PodmanRunGolden) {
  ContainerRunRequest request = Request();
  request.gpus = GpuRequest::Devices({"0", "1"});
  EXPECT_EQ(absl::StrJoin(RunArgv(Podman(), request), " | "),
            "podman | run | --name | cwb-0123456789abcdef-a1 | --init | --network | host | --workdir | "
            "/cwb/src | -e | MAX_JOBS=4 | -e | TORCH_CUDA_ARCH_LIST=8.0;9.0 $(rm -rf /) | -v | "
            "/w/src:/cwb/src | -v | /w/ctl:/cwb/ctl:ro | --label | cwb.task=0123456789abcdef | "
            "--device | nvidia.com/gpu=0 | --device | nvidia.com/gpu=1 | --security-opt | "
            "label=disable | wheel-builder:py3.10-cuda12.1-abc | /bin/sh | /cwb/ctl/build.sh");
}

TEST(ContainerArgvTest, DockerRunGolden) {
  ContainerRunRequest request = Request();
  request.gpus = GpuRequest::All();
  EXPECT_EQ(absl::StrJoin(RunArgv(Docker(), request), " | "),
            "/usr/local/bin/docker | run | --name | cwb-0123456789abcdef-a1 | --workdir | "
            "/cwb/src | -e | MAX_JOBS=4 | -e | TORCH_CUDA_ARCH_LIST=8.0;9.0 $(rm -rf /) | -v | "
            "/w/src:/cwb/src | -v | /w/ctl:/cwb/ctl:ro | --label | cwb.task=0123456789abcdef | "
            "--gpus | all | wheel-builder:py3.10-cuda12.1-abc | /bin/sh | /cwb/ctl/build.sh");
}

TEST(ContainerArgvTest, SecretValuesNeverAppearInArgv) {
  ContainerRunRequest request = Request();
  request.secret_env = {{"HF_TOKEN", "hf_supersecret"}};
  const std::string argv = absl::StrJoin(RunArgv(Podman(), request), " ");
  EXPECT_THAT(argv, ::testing::HasSubstr("-e HF_TOKEN "));
  EXPECT_THAT(argv, ::testing::Not(::testing::HasSubstr("hf_supersecret")));
}

TEST(ContainerArgvTest, GpuFlags) {
  EXPECT_THAT(GpuArgs(EngineKind::kDocker, GpuRequest::None()), ElementsAre());
  EXPECT_THAT(GpuArgs(EngineKind::kPodman, GpuRequest::None()), ElementsAre());
  EXPECT_THAT(GpuArgs(EngineKind::kDocker, GpuRequest::All()), ElementsAre("--gpus", "all"));
  EXPECT_THAT(GpuArgs(EngineKind::kPodman, GpuRequest::All()),
              ElementsAre("--device", "nvidia.com/gpu=all"));
  EXPECT_THAT(GpuArgs(EngineKind::kDocker, GpuRequest::Devices({"0", "3"})),
              ElementsAre("--gpus", "\"device=0,3\""));
  EXPECT_THAT(GpuArgs(EngineKind::kDocker, GpuRequest::Devices({"GPU-5d3c"})),
              ElementsAre("--gpus", "\"device=GPU-5d3c\""));
  EXPECT_THAT(GpuArgs(EngineKind::kPodman, GpuRequest::Devices({"2"})),
              ElementsAre("--device", "nvidia.com/gpu=2"));
}

TEST(ContainerArgvTest, BuildExistsStopRemove) {
  ImageBuildRequest build{"wheel-builder:py3.11-cudacpu-abc", "/w/image/Dockerfile", "/w/image",
                          {{"cwb.content_hash", "abc"}}};
  EXPECT_EQ(absl::StrJoin(BuildImageArgv(Podman(), build), " "),
            "podman build --tag wheel-builder:py3.11-cudacpu-abc --file /w/image/Dockerfile "
            "--label cwb.content_hash=abc --network host /w/image");
  EXPECT_EQ(absl::StrJoin(BuildImageArgv(Docker(), build), " "),
            "/usr/local/bin/docker build --tag wheel-builder:py3.11-cudacpu-abc --file "
            "/w/image/Dockerfile --label cwb.content_hash=abc /w/image");
  EXPECT_EQ(absl::StrJoin(ImageExistsArgv(Podman(), "t:1"), " "), "podman image exists t:1");
  EXPECT_EQ(absl::StrJoin(ImageExistsArgv(Docker(), "t:1"), " "),
            "/usr/local/bin/docker image inspect --format {{.Id}} t:1");
  EXPECT_EQ(absl::StrJoin(StopArgv(Podman(), "c", 30), " "), "podman stop --time 30 c");
  EXPECT_EQ(absl::StrJoin(RemoveArgv(Docker(), "c"), " "), "/usr/local/bin/docker rm --force c");
  EXPECT_EQ(absl::StrJoin(ListArgv(Podman(), "cwb.agent", "a1"), " "),
            "podman ps --all --filter label=cwb.agent=a1 --format {{.Names}}");
}

TEST(ContainerArgvTest, ExitCodesSayWhatTheyMean) {
  EXPECT_EQ(DescribeRunExit(125), "the container engine could not run the container (exit 125)");
  EXPECT_EQ(DescribeRunExit(126), "the container's command could not be invoked (exit 126)");
  EXPECT_EQ(DescribeRunExit(127), "the container's command was not found (exit 127)");
  EXPECT_EQ(DescribeRunExit(137), "the build was killed by signal 9 (exit 137)");
  EXPECT_EQ(DescribeRunExit(2), "the build command exited with status 2");
}

}  // namespace
}  // namespace cwb
