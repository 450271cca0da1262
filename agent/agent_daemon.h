// The agent's side of the coordinator protocol, over a CoordinatorLink: opens a session and
// registers (with the attempts the AttemptBook still holds, so a restarted coordinator reconciles
// instead of running them again), sends heartbeats, starts each assignment in the book, and
// reports finished attempts (uploads, then the status). When a session breaks, builds carry on;
// unreported results wait for the next session, opened after a capped exponential backoff with
// jitter. All waiting is on the injected Clock. Run() returns once `stop` fires; attempts still
// running are cancelled then.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "agent/attempt_book.h"
#include "agent/coordinator_link.h"
#include "common/base/cancellation.h"
#include "common/base/clock.h"
#include "common/web/metrics.h"

namespace cwb {

struct AgentDaemonOptions {
  std::string agent_id;  // stable identity
  v1::AgentCapabilities capabilities;
  std::chrono::milliseconds min_backoff{200};
  std::chrono::milliseconds max_backoff{5000};
  MetricsRegistry* metrics = nullptr;  // uploads are counted here; null: not counted
  // Builds run on the host's network (the host runtime, or --network host): if the coordinator
  // takes clients without a token, any build could drive it, and the agent says so.
  bool builds_on_host_network = false;
  // The jitter of each wait, a uniform draw (tests fix it); null: a random device's.
  std::function<uint64_t()> random;
};

class AgentDaemon {
 public:
  // Sends a message on the current session; false when there is none (the line is then only in
  // the attempt's own log file).
  using Send = std::function<bool(const v1::AgentMessage&)>;
  // What an attempt asks of the coordinator while it runs, on the current session (Unavailable
  // between sessions): a held wheel of a TEST attempt downloaded to a path
  // (CoordinatorSession::Download), and the compile cache's shared store (OpenCompileCache).
  struct Calls {
    std::function<absl::Status(const v1::ArtifactInfo& wheel, const std::filesystem::path& destination)> fetch_wheel;
    std::function<absl::StatusOr<v1::CompileCacheAccess>()> open_compile_cache;
  };
  // Runs one attempt to its result (the build, with its GPUs), sending its log lines with `send`
  // and asking the coordinator with `calls`.
  using Runner =
      std::function<TaskResult(const v1::Assignment&, Cancellation& cancel, const Send& send, const Calls& calls)>;

  AgentDaemon(AgentDaemonOptions options, CoordinatorLink& link, Runner runner, Clock& clock);

  // Until `stop` fires: OK. Or the coordinator's refusal of this agent (a wrong or missing token,
  // a registration it rejects), which no retry can change: the agent stops and says so.
  absl::Status Run(Cancellation& stop);

 private:
  // One session; true if it got as far as the coordinator's ack.
  bool Connect(Cancellation& stop);
  bool SendNow(const v1::AgentMessage& message);
  // Uploads and reports finished attempts while `session_done` has not fired; what cannot be
  // reported now waits for the next session.
  void Report(CoordinatorSession& session, Cancellation& session_done);
  TaskResult Execute(const v1::Assignment& assignment, Cancellation& cancel);

  const AgentDaemonOptions options_;
  CoordinatorLink& link_;
  const Runner runner_;
  Clock& clock_;

  std::atomic<bool> warned_open_clients_{false};
  absl::Status refused_;  // the last Connect's refusal; OK when it was not refused
  std::mutex session_mutex_;
  std::shared_ptr<CoordinatorSession> session_;  // the current session, null between them

  AttemptBook book_;  // last: its threads use the members above, so it is destroyed first
};

// The agent id kept in <work_dir>/agent-id, created on first use ("<hostname>-<random>").
std::string LoadOrCreateAgentId(const std::filesystem::path& work_dir);

}  // namespace cwb
