// Makes the coordinator's changes durable, then visible. A Commit is a batch of store writes and
// the deliveries (messages to agents, events to watchers) that must not happen before those
// writes. Once Start()ed, commits queue up and one thread writes whatever has queued in a single
// transaction (group commit) before running their deliveries in order: under load many calls
// share one disk write, and the coordinator's lock is never held across one. Not started (unit
// tests), Submit writes and delivers at once on the caller's thread.
//
// A write that fails (a full disk) delivers nothing: its commits wait, in order, and are written
// again with whatever queues after them, every `retry_every` on the clock, until a write goes
// through; meanwhile health() says why, and the coordinator assigns nothing and answers
// UNAVAILABLE. Nothing is ever delivered before it is written. Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "common/base/cancellation.h"
#include "common/base/clock.h"
#include "coordinator/state_store.h"

namespace cwb {

class CommitWriter {
 public:
  struct Commit {
    StoreBatch batch;
    std::vector<std::function<void()>> deliveries;  // run after the batch is written
  };

  CommitWriter(BatchSink& sink, Clock& clock, std::chrono::milliseconds retry_every = std::chrono::seconds(1))
      : sink_(sink), clock_(clock), retry_every_(retry_every) {}
  ~CommitWriter();  // Stop()

  void Start();
  // Writes and delivers what is queued (one more try for commits waiting after a failure; what
  // still cannot be written is dropped, undelivered), then stops the thread.
  void Stop();
  void Submit(Commit commit);
  // Returns once every commit submitted before the call is written (for reads of the store that
  // must see them), or with health() while writes fail.
  absl::Status Sync();
  // OK while writes go through; otherwise why the last one failed (its commits wait).
  absl::Status health() const;

 private:
  // Writes `commits` in one transaction and delivers them, in order. On failure they come back in
  // `unwritten` as one commit (batches merged, deliveries in order), to be tried again.
  absl::Status Write(std::vector<Commit> commits, Commit* unwritten);
  // Records the outcome of a write of `count` commits (under mutex_).
  void NoteLocked(const absl::Status& written, size_t count);
  void Loop();

  BatchSink& sink_;
  Clock& clock_;
  const std::chrono::milliseconds retry_every_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<Commit> waiting_;  // failed to write, oldest first; written before queue_
  std::vector<Commit> queue_;
  uint64_t submitted_ = 0, written_ = 0;  // commits queued and written, counted
  absl::Status health_;
  bool running_ = false;
  bool stopping_ = false;
  Cancellation stop_retrying_;  // wakes the thread from a retry wait when stopping
  std::thread thread_;
};

}  // namespace cwb
