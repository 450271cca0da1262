// The attempts an agent holds: each assignment runs on a thread of its own (through `execute`,
// which in production builds it with the BuildPipeline) until its result waits to be reported;
// reported (or unwanted) ones are forgotten, their wheels removed. The book says what to tell the
// coordinator when registering (the attempts still held, so a restarted coordinator reconciles
// instead of running them again), cancels attempts it is asked to, and drops the results of
// attempts the coordinator abandoned without reporting them. Thread-safe.
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "agent/build_pipeline.h"
#include "common/base/cancellation.h"
#include "cwb/v1/agent.pb.h"

namespace cwb {

class AttemptBook {
 public:
  // Runs one attempt to its result; returns early (cancelled) when `cancel` fires.
  using Execute = std::function<TaskResult(const v1::Assignment& assignment, Cancellation& cancel)>;
  explicit AttemptBook(Execute execute) : execute_(std::move(execute)) {}
  // Cancels every attempt and waits for their threads.
  ~AttemptBook();

  // Starts an attempt (a repeated assignment of one already held is ignored).
  void Start(const v1::Assignment& assignment);
  // Asks an attempt still running to stop; nothing for an unknown or finished one.
  void Cancel(const std::string& attempt_id, const std::string& reason);
  void CancelAll(const std::string& reason);
  // Attempts the coordinator no longer wants: cancelled, and their results dropped unreported.
  void Abandon(const std::vector<std::string>& attempt_ids);

  // The registration: `agent_id`, `capabilities`, and every attempt held but not abandoned.
  v1::Register RegisterMessage(const std::string& agent_id, const v1::AgentCapabilities& capabilities) const;

  struct Finished {
    v1::Assignment assignment;
    TaskResult result;
  };
  // Blocks for a finished attempt not yet forgotten (abandoned ones are forgotten on the way);
  // nullopt once `stop` fires. The same attempt comes again until it is forgotten.
  std::optional<Finished> NextFinished(Cancellation& stop);
  // The attempt was reported, or its result is not wanted: forgotten, its thread joined, its
  // wheels removed.
  void Forget(const std::string& attempt_id);
  // Attempts held, abandoned ones not counted (their threads may still be ending).
  size_t size() const;

 private:
  struct Entry {
    v1::Assignment assignment;
    Cancellation cancel;
    std::thread thread;
    bool finished = false;
    bool abandoned = false;
    TaskResult result;
  };
  // Removes the entry (under the lock) and hands it back to be joined outside it.
  std::unique_ptr<Entry> TakeLocked(const std::string& attempt_id);
  static void Dispose(std::unique_ptr<Entry> entry);

  const Execute execute_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::string, std::unique_ptr<Entry>> entries_;  // by attempt id
};

}  // namespace cwb
