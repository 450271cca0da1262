#include "coordinator/task_queue.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/config/axes.h"
#include "common/rpc/task_proto.h"

namespace cwb {

bool TaskQueue::Order::operator<(const Order& other) const {
  if (build_seq != other.build_seq) return build_seq < other.build_seq;
  // Unknown (-1) sorts as the longest.
  const bool unknown = expected_ms < 0, other_unknown = other.expected_ms < 0;
  if (unknown != other_unknown) return unknown;
  if (expected_ms != other.expected_ms) return expected_ms > other.expected_ms;
  return index < other.index;
}

v1::TaskSpec TaskQueue::Requirements(const v1::TaskSpec& spec) {
  v1::TaskSpec requirements;
  for (const v1::AxisValue& axis : spec.axes()) {
    if (axis.name() == kPythonAxis || axis.name() == kCudaAxis || axis.name() == kTorchAxis) {
      *requirements.add_axes() = axis;
    }
  }
  std::vector<std::string> labels(spec.required_labels().begin(), spec.required_labels().end());
  std::sort(labels.begin(), labels.end());
  labels.erase(std::unique(labels.begin(), labels.end()), labels.end());
  for (const std::string& label : labels) requirements.add_required_labels(label);
  return requirements;
}

std::string TaskQueue::RequirementsKey(const v1::TaskSpec& requirements) {
  std::string key;
  for (const v1::AxisValue& axis : requirements.axes()) absl::StrAppend(&key, axis.name(), "=", axis.value(), "\n");
  absl::StrAppend(&key, absl::StrJoin(requirements.required_labels(), "\n"));
  return key;
}

void TaskQueue::Push(const TaskKey& key, const v1::TaskSpec& spec, v1::TaskStep step, Order order) {
  v1::TaskSpec requirements = Requirements(spec);
  const bool needs_gpu = NeedsGpu(spec, step);
  std::string group_key = absl::StrCat(RequirementsKey(requirements), "\nstep=", step, needs_gpu ? " gpu" : "");
  Group& group = groups_[group_key];
  if (group.tasks.empty() && group.fresh.empty()) {
    group.requirements = std::move(requirements);
    group.step = step;
    group.needs_gpu = needs_gpu;
  }
  group.tasks.emplace(order, key);
  group.fresh.push_back(key);
  where_[key] = {std::move(group_key), order};
}

void TaskQueue::Remove(const TaskKey& key) {
  auto it = where_.find(key);
  if (it == where_.end()) return;
  groups_.at(it->second.first).tasks.erase({it->second.second, key});
  where_.erase(it);
}

}  // namespace cwb
