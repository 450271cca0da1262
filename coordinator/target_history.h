// What the coordinator has learnt of each target (a project at one value of every axis) from
// earlier builds: how long its attempt ran, the recent builds weighing most, and what its last
// measured attempt used (peak memory, CPU time, MAX_JOBS; an attempt killed out of memory
// included). A changed build command or commit still predicts from the earlier builds. A target
// never measured is predicted from its siblings (its project's cells of the same CUDA version):
// the largest peak any of them reached without running out of memory, so the first builds of a
// new Python or torch release, or the rest of a matrix once one cell is built, are not all placed
// on the conservative default. The dispatcher orders the queue by it (longest first) and sizes
// each attempt's share from it.
// Not thread-safe: used under the coordinator's lock.
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
  void Load(std::map<std::string, TargetRecord> targets);
  // The expected build time of the spec's target in ms; -1 when it was never built.
  int64_t ExpectedMs(const v1::TaskSpec& spec) const;
  // What the target's last measured attempt used; never measured, its largest sibling's (see
  // above); null when neither was measured.
  const v1::ResourceUse* LastUse(const v1::TaskSpec& spec) const;
  // Learns from a task whose attempt ended, writing what changed into `batch`: a succeeded one's
  // time (started_at_ms to finished_at_ms; a task that never started teaches none), and the use it
  // reported (`task.use()`), when measured, for a succeeded attempt or one out of memory.
  void Record(const v1::TaskInfo& task, bool succeeded, StoreBatch& batch);

  // The time left of a build `done` of `total` steps along after `elapsed_ms`: the part not done
  // of the target's last build time (`expected_ms`, -1: never built), else the time so far
  // stretched over the part done; -1 while nothing is done (no rate to go by).
  static int64_t EstimateLeftMs(int64_t expected_ms, int64_t elapsed_ms, uint32_t done, uint32_t total);

  // "project|axis=value|...": the identity of a target across builds.
  static std::string TargetKey(const v1::TaskSpec& spec);

 private:
  // "project|cuda_version=X": the targets a never-measured one is predicted from.
  static std::string SiblingKey(const std::string& target_key);
  void NoteSibling(const std::string& target_key, const v1::ResourceUse& use);

  std::map<std::string, TargetRecord> targets_;
  std::map<std::string, v1::ResourceUse> largest_sibling_;  // by SiblingKey: the largest measured peak
};

}  // namespace cwb
