// A task as the coordinator holds it in memory, and the key that names it. The TaskTable owns
// the records; the change set and the dispatcher refer to them while the coordinator's lock is
// held.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "cwb/v1/state.pb.h"

namespace cwb {

using TaskKey = std::pair<std::string, std::string>;  // build id, task id

struct TaskRecord {
  // Its spec lacks the rendered Dockerfile, which the TaskTable keeps once per image (by content
  // hash); assignments put it back.
  v1::TaskInfo info;
  uint32_t index = 0;  // position in the build's matrix
  bool dirty = false;  // its row is in the pending change set

  TaskKey key() const { return {info.build_id(), info.spec().id()}; }
};

}  // namespace cwb
