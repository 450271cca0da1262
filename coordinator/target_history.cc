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
  auto it = targets_.find(TargetKey(spec));
  return it == targets_.end() ? -1 : it->second.duration_ms;
}

const v1::ResourceUse* TargetHistory::LastUse(const v1::TaskSpec& spec) const {
  const std::string key = TargetKey(spec);
  auto it = targets_.find(key);
  if (it != targets_.end() && it->second.use.jobs() > 0) return &it->second.use;
  if (largest_sibling_.empty()) return nullptr;  // nothing measured yet: no key to build on the hot path
  auto sibling = largest_sibling_.find(SiblingKey(key));
  return sibling == largest_sibling_.end() ? nullptr : &sibling->second;
}

std::string TargetHistory::SiblingKey(const std::string& target_key) {
  std::string project = target_key.substr(0, target_key.find('|'));
  const size_t cuda = target_key.find("|cuda_version=");
  if (cuda == std::string::npos) return project;
  const size_t end = target_key.find('|', cuda + 1);
  return project + target_key.substr(cuda, end == std::string::npos ? std::string::npos : end - cuda);
}

void TargetHistory::NoteSibling(const std::string& target_key, const v1::ResourceUse& use) {
  if (use.jobs() == 0 || use.out_of_memory()) return;
  v1::ResourceUse& largest = largest_sibling_[SiblingKey(target_key)];
  if (largest.jobs() == 0 || use.peak_memory_bytes() >= largest.peak_memory_bytes()) largest = use;
}

void TargetHistory::Load(std::map<std::string, TargetRecord> targets) {
  targets_ = std::move(targets);
  largest_sibling_.clear();
  for (const auto& [key, record] : targets_) NoteSibling(key, record.use);
}

void TargetHistory::Record(const v1::TaskInfo& task, bool succeeded, StoreBatch& batch) {
  const bool ran = task.started_at_ms() > 0 && task.finished_at_ms() >= task.started_at_ms();
  const bool measured = task.has_use() && task.use().jobs() > 0 && (succeeded || task.use().out_of_memory());
  if (!(succeeded && ran) && !measured) return;
  const std::string key = TargetKey(task.spec());
  TargetRecord& record = targets_[key];
  if (succeeded && ran) {
    const int64_t took = task.finished_at_ms() - task.started_at_ms();
    record.duration_ms = record.duration_ms < 0 ? took : (record.duration_ms + took) / 2;  // recent builds weigh most
  }
  if (measured) {
    record.use = task.use();
    NoteSibling(key, record.use);
  }
  batch.targets[key] = record;
}

}  // namespace cwb
