#include "coordinator/target_history.h"

#include "absl/strings/str_cat.h"

namespace cwb {

int64_t TargetHistory::EstimateLeftMs(int64_t expected_ms, int64_t elapsed_ms, uint32_t done, uint32_t total) {
  if (total == 0) return -1;
  const double left = 1.0 - static_cast<double>(done) / total;
  if (expected_ms > 0) return static_cast<int64_t>(static_cast<double>(expected_ms) * left);
  if (done == 0 || elapsed_ms <= 0) return -1;
  return static_cast<int64_t>(static_cast<double>(elapsed_ms) * left * total / done);
}

std::string TargetHistory::TargetKey(const v1::TaskSpec& spec) {
  std::string key = spec.project();
  for (const v1::AxisValue& axis : spec.axes()) absl::StrAppend(&key, "|", axis.name(), "=", axis.value());
  return key;
}

int64_t TargetHistory::ExpectedMs(const v1::TaskSpec& spec) const {
  auto it = durations_ms_.find(TargetKey(spec));
  return it == durations_ms_.end() ? -1 : it->second;
}

void TargetHistory::Record(const v1::TaskInfo& task, StoreBatch& batch) {
  if (task.started_at_ms() <= 0 || task.finished_at_ms() < task.started_at_ms()) return;
  const int64_t took = task.finished_at_ms() - task.started_at_ms();
  const std::string key = TargetKey(task.spec());
  auto [it, added] = durations_ms_.emplace(key, took);
  if (!added) it->second = (it->second + took) / 2;  // the recent builds weigh most
  batch.target_durations[key] = it->second;
}

}  // namespace cwb
