#include "coordinator/build_watcher.h"

namespace cwb {

void BuildWatcher::Push(v1::BuildEvent event) {
  {
    std::lock_guard lock(mutex_);
    if (closed_) return;
    events_.push_back(std::move(event));
  }
  cv_.notify_all();
}

bool BuildWatcher::Next(v1::BuildEvent* event, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  cv_.wait_for(lock, timeout, [&] { return !events_.empty() || closed_; });
  if (events_.empty()) return false;
  *event = std::move(events_.front());
  events_.pop_front();
  return true;
}

void BuildWatcher::Close() {
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
  }
  cv_.notify_all();
}

bool BuildWatcher::closed() const {
  std::lock_guard lock(mutex_);
  return closed_;
}

}  // namespace cwb
