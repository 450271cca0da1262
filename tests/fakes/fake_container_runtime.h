// A ContainerRuntime that keeps images in a set and "runs" containers by calling a test-provided
// function, which may write files into the mounted host directories (e.g. a wheel into /cwb/out).
// A run can block until its cancellation fires, to test stopping without sleeping.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <set>
#include <vector>

#include "agent/container_runtime.h"
#include "common/base/cancellation.h"
#include "tests/fakes/rendezvous.h"

namespace cwb::testing {

class FakeContainerRuntime final : public ContainerRuntime {
 public:
  // Called for each run; returns the exit code. Default: exit 0, no output.
  std::function<int(const ContainerRunRequest&, const LineCallback&)> on_run;
  bool block_runs_until_cancelled = false;
  absl::Status build_status = absl::OkStatus();
  bool images = true;  // false: behaves like a runtime without images (host)
  std::function<void()> on_build;  // called inside each BuildImage (e.g. to hold it)

  std::string name() const override { return "fake"; }
  bool uses_images() const override { return images; }

  absl::StatusOr<bool> ImageExists(const std::string& tag) override {
    std::lock_guard lock(mutex_);
    return images_.count(tag) > 0;
  }
  absl::Status BuildImage(const ImageBuildRequest& request, const LineCallback& on_line,
                          Cancellation*) override {
    if (on_build) on_build();
    std::lock_guard lock(mutex_);
    builds_.push_back(request);
    on_line("STEP 1/1: FROM base");
    if (build_status.ok()) images_.insert(request.tag);
    return build_status;
  }
  absl::StatusOr<ContainerExit> RunContainer(const ContainerRunRequest& request,
                                             const LineCallback& on_line, Cancellation* cancel,
                                             std::chrono::seconds stop_grace) override {
    {
      std::lock_guard lock(mutex_);
      runs_.push_back(request);
      last_stop_grace_ = stop_grace;
      running_ = true;
      cv_.notify_all();
    }
    ContainerExit exit;
    exit.exit_code = on_run ? on_run(request, on_line) : 0;
    if (block_runs_until_cancelled && cancel != nullptr) {
      cancel->Wait();
      exit.exit_code = 143;
    }
    exit.cancelled = cancel != nullptr && cancel->cancelled();
    exit.description = exit.cancelled ? "cancelled: " + cancel->reason()
                                      : "exit " + std::to_string(exit.exit_code);
    std::lock_guard lock(mutex_);
    removed_.push_back(request.name);
    running_ = false;
    return exit;
  }
  // What every image records of its base; empty: nothing (as a custom template's image).
  std::string image_facts;
  std::atomic<int> facts_reads{0};
  absl::StatusOr<std::string> BaseImageFacts(const std::string&) override {
    ++facts_reads;
    return image_facts;
  }
  absl::Status RemoveContainer(const std::string& name) override {
    std::lock_guard lock(mutex_);
    removed_.push_back(name);
    return absl::OkStatus();
  }

  Stopper StopperFor(const std::string& name) const override { return {{"fake-rm", name}, ""}; }

  absl::StatusOr<std::vector<std::string>> ListContainers(const std::string&,
                                                          const std::string&) override {
    return std::vector<std::string>{};
  }

  void AddImage(const std::string& tag) {
    std::lock_guard lock(mutex_);
    images_.insert(tag);
  }
  // Blocks until a container is running (a rendezvous, not a sleep); false if none is within
  // kRendezvousLimit.
  [[nodiscard]] bool WaitUntilRunning() {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, kRendezvousLimit, [&] { return running_; });
  }
  std::vector<ImageBuildRequest> builds() const {
    std::lock_guard lock(mutex_);
    return builds_;
  }
  std::vector<ContainerRunRequest> runs() const {
    std::lock_guard lock(mutex_);
    return runs_;
  }
  std::vector<std::string> removed() const {
    std::lock_guard lock(mutex_);
    return removed_;
  }
  std::chrono::seconds last_stop_grace() const {
    std::lock_guard lock(mutex_);
    return last_stop_grace_;
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  bool running_ = false;
  std::set<std::string> images_;
  std::vector<ImageBuildRequest> builds_;
  std::vector<ContainerRunRequest> runs_;
  std::vector<std::string> removed_;
  std::chrono::seconds last_stop_grace_{0};
};

}  // namespace cwb::testing
