// Makes the coordinator's changes durable, then visible. A Commit is a batch of store writes and
// the deliveries (messages to agents, events to watchers) that must not happen before those
// writes. Once Start()ed, commits queue up and one thread writes whatever has queued in a single
// transaction (group commit) before running their deliveries in order: under load many calls
// share one disk write, and the coordinator's lock is never held across one. Not started (unit
// tests), Submit writes and delivers at once on the caller's thread. Thread-safe.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "coordinator/state_store.h"

namespace cwb {

class CommitWriter {
 public:
  struct Commit {
    StoreBatch batch;
    std::vector<std::function<void()>> deliveries;  // run after the batch is written
  };

  explicit CommitWriter(StateStore& store) : store_(store) {}
  ~CommitWriter();  // Stop()

  void Start();
  // Writes and delivers what is queued, then stops the thread (back to writing at once).
  void Stop();
  void Submit(Commit commit);
  // Returns once every commit submitted before the call is written (for reads of the store that
  // must see them).
  void Sync();

 private:
  void Write(std::vector<Commit>& commits);
  void Loop();

  StateStore& store_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<Commit> queue_;
  uint64_t submitted_ = 0, written_ = 0;  // commits queued and written, counted
  bool running_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace cwb
