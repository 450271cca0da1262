// A ContainerRuntime whose builds finish at once: a run writes one small wheel (an empty zip),
// named after the task, into the host directory mounted at /cwb/out and exits 0. It keeps the images it "built"
// and counts image builds and runs, so the cache benchmark can show what was built and what was
// not, with the real agent, pipeline and git around it.
#pragma once

#include <atomic>
#include <fstream>
#include <mutex>
#include <set>

#include "agent/container_runtime.h"

namespace cwb::bench {

class InstantRuntime final : public ContainerRuntime {
 public:
  // A zip archive without members (its end record alone) whose comment is `comment`: each task's
  // wheel differs, and the release gate opens it and finds nothing to resolve.
  static std::string EmptyZipWithComment(const std::string& comment) {
    std::string zip("PK\x05\x06", 4);
    zip.append(16, '\0');
    zip.push_back(static_cast<char>(comment.size() & 0xff));
    zip.push_back(static_cast<char>((comment.size() >> 8) & 0xff));
    return zip + comment;
  }

  std::string name() const override { return "instant"; }

  absl::StatusOr<bool> ImageExists(const std::string& tag) override {
    std::lock_guard lock(mutex_);
    return images_.count(tag) > 0;
  }
  absl::Status BuildImage(const ImageBuildRequest& request, const LineCallback&, Cancellation*) override {
    std::lock_guard lock(mutex_);
    images_.insert(request.tag);
    ++image_builds_;
    return absl::OkStatus();
  }
  absl::StatusOr<ContainerExit> RunContainer(const ContainerRunRequest& request, const LineCallback& on_line,
                                             Cancellation*, std::chrono::seconds) override {
    ++runs_;
    std::string task = "task";
    for (const auto& [name, value] : request.env) {
      if (name == "CWB_TASK_ID") task = value;
    }
    for (const Mount& mount : request.mounts) {
      if (mount.container_path == "/cwb/out") {
        std::ofstream(mount.host_path / ("instant-1.0+" + task + "-py3-none-any.whl"), std::ios::binary)
            << EmptyZipWithComment("wheel of " + task);
      }
    }
    on_line("built at once");
    return ContainerExit{0, false, "the build command exited with status 0"};
  }
  absl::StatusOr<std::string> BaseImageFacts(const std::string&) override { return std::string(); }
  absl::Status RemoveContainer(const std::string&) override { return absl::OkStatus(); }
  Stopper StopperFor(const std::string&) const override { return {}; }
  absl::StatusOr<std::vector<std::string>> ListContainers(const std::string&, const std::string&) override {
    return std::vector<std::string>{};
  }

  int image_builds() {
    std::lock_guard lock(mutex_);
    return image_builds_;
  }
  int runs() const { return runs_; }

 private:
  std::mutex mutex_;
  std::set<std::string> images_;
  int image_builds_ = 0;
  std::atomic<int> runs_{0};
};

}  // namespace cwb::bench
