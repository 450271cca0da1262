// What the coordinator has learnt of each target (a project at one value of every axis) from
// earlier builds: how long its attempt ran, the recent builds weighing most. A changed build
// command or commit still predicts from the earlier builds. The dispatcher orders the queue by
// it (longest first); succeeded tasks add to it. Not thread-safe: used under the coordinator's
// lock.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "coordinator/state_store.h"
#include "cwb/v1/state.pb.h"

namespace cwb {

class TargetHistory {
 public:
  // Replaces what is known (from the store, at start).
  void Load(std::map<std::string, int64_t> durations_ms) { durations_ms_ = std::move(durations_ms); }
  // The expected build time of the spec's target in ms; -1 when it was never built.
  int64_t ExpectedMs(const v1::TaskSpec& spec) const;
  // Learns from a task that ran (started_at_ms to finished_at_ms), writing the new estimate into
  // `batch`; a task that never started running teaches nothing.
  void Record(const v1::TaskInfo& task, StoreBatch& batch);

  // The time left of a build `done` of `total` steps along after `elapsed_ms`: the part not done
  // of the target's last build time (`expected_ms`, -1: never built), else the time so far
  // stretched over the part done; -1 while nothing is done (no rate to go by).
  static int64_t EstimateLeftMs(int64_t expected_ms, int64_t elapsed_ms, uint32_t done, uint32_t total);

  // "project|axis=value|...": the identity of a target across builds.
  static std::string TargetKey(const v1::TaskSpec& spec);

 private:
  std::map<std::string, int64_t> durations_ms_;
};

}  // namespace cwb
