// Simulated agents for the benchmarks: each is a real AgentService.Session over gRPC that
// registers and heartbeats as cwb-agent does, but "builds" each assignment with a fake runtime
// that takes a chosen time (none by default). A finished task either fails at once (no wheel) or
// uploads a small wheel through the agent's real upload code and succeeds. The agents use gRPC's
// callback API, so a thousand of them share a few threads; one timer thread drives heartbeats
// and build completions, a small pool does uploads.
//
// For the dispatch benchmark each agent records, for every assignment that fills a slot freed
// by a finished task, the time from sending that task's final status to receiving the next
// assignment.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <queue>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "agent/build_pipeline.h"
#include "cwb/v1/agent.grpc.pb.h"

namespace cwb::bench {

using SteadyTime = std::chrono::steady_clock::time_point;

struct SimAgentOptions {
  std::string agent_id;
  uint32_t slots = 1;
  std::vector<std::string> labels;
  // How long each assignment "builds"; null or zero: it finishes at once.
  std::function<std::chrono::microseconds(const v1::Assignment&)> build_time;
  // true: upload a small wheel and report SUCCEEDED; false: report FAILED with no wheel.
  bool succeed = false;
  // What it reports of itself besides slots and labels (cores, memory, GPUs, driver, GPU slots).
  v1::AgentCapabilities capabilities;
  // What each assignment's build "uses", reported with its final status (the agent then says it
  // measures builds); null: nothing reported. Its peaks count against the agent's memory while it runs.
  std::function<v1::ResourceUse(const v1::Assignment&)> use;
};

class SimFleet {
 public:
  // `address`: the coordinator; `token`: the agent token, empty for none; `work_dir`: where the
  // small wheel the agents upload is written.
  SimFleet(std::string address, std::string token, const std::filesystem::path& work_dir);
  ~SimFleet();

  void Add(const SimAgentOptions& options);
  // Waits until `count` agents have their coordinator's ack; false on timeout.
  bool WaitRegistered(size_t count, std::chrono::seconds timeout);

  uint64_t assignments() const { return assignments_; }
  uint64_t finished() const { return finished_; }
  SteadyTime first_assignment() const;
  SteadyTime last_assignment() const;
  SteadyTime last_finished() const;  // when the latest final status was sent
  // Milliseconds from a final status sent to the next assignment of that agent, for each.
  std::vector<double> FreeToAssignmentMs() const;
  // The most the builds running at once on one agent "used" of its memory (the sum of their
  // peaks over its capabilities.memory_bytes), over every agent that reports memory.
  double MaxMemoryShare() const;
  // Starts a new measurement: counts, latencies and memory shares back to zero.
  void ResetStats();

 private:
  class Agent;
  struct TimerEntry {
    SteadyTime due;
    std::function<void()> run;
    bool operator>(const TimerEntry& other) const { return due > other.due; }
  };
  friend class Agent;

  void After(std::chrono::microseconds delay, std::function<void()> run);
  void Upload(std::function<void()> job);
  void TimerLoop();
  void UploadLoop();
  void AgentRegistered();
  void RecordAssignment(SteadyTime at, std::optional<SteadyTime> freed_at);
  void RecordFinished();
  void RecordMemoryShare(double share);

  const std::string address_;
  const std::string token_;
  BuiltWheel wheel_;

  mutable std::mutex mutex_;
  std::condition_variable registered_cv_, timer_cv_, upload_cv_;
  bool stopping_ = false;
  std::vector<std::unique_ptr<Agent>> agents_;
  size_t registered_ = 0;
  std::priority_queue<TimerEntry, std::vector<TimerEntry>, std::greater<>> timers_;
  std::deque<std::function<void()>> uploads_;
  std::vector<double> latencies_ms_;
  double max_memory_share_ = 0;
  SteadyTime first_assignment_{}, last_assignment_{}, last_finished_{};
  std::atomic<uint64_t> assignments_{0}, finished_{0};
  std::thread timer_;
  std::vector<std::thread> uploaders_;
};

}  // namespace cwb::bench
