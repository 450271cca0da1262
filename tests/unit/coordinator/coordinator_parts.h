// What the unit tests of the coordinator's parts share: tasks made by hand and a QueueListener
// that keeps the queue as a set.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "coordinator/task_table.h"
#include "tests/fakes/recording_agent_channel.h"

namespace cwb::testing {

// A task of `build` named `id`, of project "demo" on CPU with Python 3.11.
inline TaskRecord MakeTask(const std::string& build, const std::string& id,
                           v1::TaskState state = v1::TASK_STATE_QUEUED) {
  TaskRecord task;
  task.info.set_build_id(build);
  task.info.set_state(state);
  v1::TaskSpec& spec = *task.info.mutable_spec();
  spec.set_id(id);
  spec.set_project("demo");
  for (auto [name, value] : {std::pair{"python_version", "3.11"}, {"cuda_version", "cpu"}, {"pytorch_version", "2.4"}}) {
    v1::AxisValue* axis = spec.add_axes();
    axis->set_name(name);
    axis->set_value(value);
  }
  return task;
}

inline v1::BuildInfo MakeBuildHeader(const std::string& build_id, bool fail_fast = false, uint32_t max_parallel = 0) {
  v1::BuildInfo header;
  header.set_build_id(build_id);
  header.set_fail_fast(fail_fast);
  header.set_max_parallel(max_parallel);
  return header;
}

// The queue as a set of keys, with the build order each was queued with.
class SetQueue final : public QueueListener {
 public:
  void Queued(const TaskRecord& task, uint64_t build_seq) override {
    queued.insert(task.key());
    last_build_seq = build_seq;
  }
  void Dequeued(const TaskKey& key) override { queued.erase(key); }

  std::set<TaskKey> queued;
  uint64_t last_build_seq = 0;
};

// Where a commit's deliveries go: channels by agent id (an agent without one has no session),
// which agents were looked up, discarded uploads and log wake-ups.
struct TestReceivers {
  std::map<std::string, std::shared_ptr<RecordingChannel>> channels;
  std::vector<std::string> looked_up;
  std::vector<std::string> discarded;
  int log_wakes = 0;

  ChangeSet::Receivers Get() {
    return {[this](const std::string& id) -> std::shared_ptr<AgentChannel> {
              looked_up.push_back(id);
              auto it = channels.find(id);
              return it == channels.end() ? nullptr : it->second;
            },
            [this](const TaskKey&, const std::string& attempt) { discarded.push_back(attempt); },
            [this] { ++log_wakes; }};
  }
};

inline void Deliver(CommitWriter::Commit& commit) {
  for (auto& deliver : commit.deliveries) deliver();
}

}  // namespace cwb::testing
