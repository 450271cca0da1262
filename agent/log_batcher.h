// Gathers one attempt's log lines into LogBatch messages for the session stream, with the build's
// latest progress line read into LogBatch.progress: a batch goes out
// when it holds kMaxBytes or kMaxLines, or max_delay after its first line (so `cwb logs -f` stays
// live while a build is quiet), and on destruction. Memory is bounded by one batch: while the
// stream cannot take more (gRPC flow control), Add blocks, which holds the build's output back.
// Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "agent/log_sink.h"
#include "common/base/cancellation.h"
#include "common/base/clock.h"
#include "cwb/v1/agent.pb.h"

namespace cwb {

class LogBatcher {
 public:
  static constexpr size_t kMaxBytes = 256 * 1024;
  static constexpr int kMaxLines = 2000;

  // `send` returns false when the message could not be sent (then it is dropped: the agent's
  // own log file keeps every line).
  using Send = std::function<bool(const v1::AgentMessage&)>;

  LogBatcher(const std::string& build_id, const std::string& task_id, const std::string& attempt_id,
             Send send, Clock& clock, std::chrono::milliseconds max_delay);
  ~LogBatcher();

  void Add(const LogLine& line);

 private:
  void SendLocked();
  void TimerLoop();

  const Send send_;
  Clock& clock_;
  const std::chrono::milliseconds max_delay_;
  std::mutex mutex_;
  std::condition_variable has_lines_;
  v1::AgentMessage message_;
  size_t bytes_ = 0;
  Clock::SteadyTime first_line_at_;
  bool stopping_ = false;
  Cancellation stop_;
  std::thread timer_;
};

}  // namespace cwb
