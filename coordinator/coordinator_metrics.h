// The coordinator's Prometheus metrics (served at /metrics): counters and histograms updated
// where the event happens (queue wait at assignment, build durations at a task's end, uploaded
// bytes, result cache hits) and gauges read at scrape time under the coordinator's lock (tasks by
// state, queue length, agents connected, whether the state can be written). Thread-safe as MetricsRegistry is.
#pragma once

#include <functional>
#include <mutex>

#include "common/web/metrics.h"
#include "cwb/v1/state.pb.h"

namespace cwb {

class AgentRegistry;
class TaskTable;

class CoordinatorMetrics {
 public:
  CoordinatorMetrics();

  // Adds the gauges, read under `mutex` from `tasks` and `agents` at each scrape, and whether the
  // state can be written now (`writable`).
  void AddGauges(std::mutex& mutex, const TaskTable& tasks, const AgentRegistry& agents,
                 std::function<bool()> writable);
  // Observes an ended task's last attempt in the build duration histogram (by its end state).
  void ObserveEnd(const v1::TaskInfo& task);
  // What an ended attempt's build used (its peak memory), and whether it ran out of memory.
  void ObserveUse(const v1::ResourceUse& use);
  // A build's compile cache counters, per agent (cwb_compile_cache_calls_total).
  void ObserveCompileCache(const std::string& agent_id, const v1::CompileCacheStats& stats);

  MetricsRegistry& registry() { return registry_; }
  Histogram& queue_wait() { return *queue_wait_; }
  Counter& uploaded_bytes() { return *uploaded_bytes_; }
  Counter& result_cache_hits() { return *result_cache_hits_; }

 private:
  MetricsRegistry registry_;
  Histogram* queue_wait_;
  Counter* uploaded_bytes_;
  Counter* result_cache_hits_;
};

}  // namespace cwb
