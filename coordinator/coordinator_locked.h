// Coordinator::Locked, shared by the files that define the coordinator's calls.
#pragma once

#include <mutex>

#include "coordinator/coordinator.h"

namespace cwb {

// Holds the coordinator's mutex for one call and flushes the call's changes before releasing it.
class Coordinator::Locked {
 public:
  explicit Locked(Coordinator& coordinator) : coordinator_(coordinator), lock_(coordinator.mutex_) {}
  ~Locked() { coordinator_.Flush(); }

 private:
  Coordinator& coordinator_;
  std::lock_guard<std::mutex> lock_;
};

}  // namespace cwb
