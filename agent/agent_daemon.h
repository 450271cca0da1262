// The agent's side of the coordinator protocol: dials out, registers (with the attempts it is
// still running, so a restarted coordinator reconciles instead of running them again), sends
// heartbeats, runs each assignment through the BuildPipeline on its own thread, streams log lines,
// uploads wheels (chunked, sha256 last) and reports the outcome. When the session breaks, builds
// carry on; unreported outcomes wait and are sent after it reconnects (with capped exponential
// backoff). Run() returns once `stop` fires; running builds are cancelled then.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "agent/build_pipeline.h"
#include "common/web/metrics.h"
#include "agent/gpu_allocator.h"
#include "common/rpc/auth.h"
#include "common/base/cancellation.h"
#include "cwb/v1/agent.grpc.pb.h"

namespace cwb {

struct AgentDaemonOptions {
  std::string coordinator;  // host:port
  std::string agent_id;     // stable identity
  v1::AgentCapabilities capabilities;
  std::string token;       // agent bearer token; empty: none
  ClientTlsOptions tls;    // the coordinator's CA (and a client certificate for mutual TLS)
  std::chrono::milliseconds min_backoff{200};
  std::chrono::milliseconds max_backoff{5000};
  MetricsRegistry* metrics = nullptr;  // uploads and sessions are counted here; null: not counted
};

class AgentDaemon {
 public:
  // `gpus` hands each attempt its GPUs.
  AgentDaemon(AgentDaemonOptions options, BuildPipeline& pipeline, GpuAllocator& gpus);
  ~AgentDaemon();

  void Run(Cancellation& stop);

 private:
  struct Work {
    v1::Assignment assignment;
    Cancellation cancel;
    std::thread thread;
    bool finished = false;
    TaskResult result;
  };
  using Stream = grpc::ClientReaderWriter<v1::AgentMessage, v1::CoordinatorMessage>;

  // One connection; returns true if it got as far as the coordinator's ack.
  bool Connect(Cancellation& stop);
  bool Send(const v1::AgentMessage& message);
  void Start(const v1::Assignment& assignment);
  void RunWork(Work* work);
  // Uploads and reports finished work while connected; leaves the rest for the next session.
  void Report(v1::AgentService::Stub& stub, Cancellation& connection_done);
  v1::Register RegisterMessage();
  void Authorize(grpc::ClientContext& context) const;

  const AgentDaemonOptions options_;
  BuildPipeline& pipeline_;
  GpuAllocator& gpus_;

  std::mutex write_mutex_;  // one write in flight on the session stream
  Stream* stream_ = nullptr;

  std::mutex mutex_;
  std::condition_variable finished_cv_;
  std::map<std::string, std::unique_ptr<Work>> work_;  // by attempt id
};

// The agent id kept in <work_dir>/agent-id, created on first use ("<hostname>-<random>").
std::string LoadOrCreateAgentId(const std::filesystem::path& work_dir);

}  // namespace cwb
