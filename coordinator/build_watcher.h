// The events of one build for one watcher (a WatchBuild stream), in order. The coordinator pushes
// each event once the change it describes is durable; the stream's thread takes them. Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>

#include "cwb/v1/client.pb.h"

namespace cwb {

class BuildWatcher {
 public:
  void Push(v1::BuildEvent event);
  // Waits up to `timeout` for the next event; false if none came (or Close was called).
  bool Next(v1::BuildEvent* event, std::chrono::milliseconds timeout);
  void Close();
  bool closed() const;

 private:
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<v1::BuildEvent> events_;
  bool closed_ = false;
};

}  // namespace cwb
