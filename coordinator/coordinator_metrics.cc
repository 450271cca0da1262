#include "coordinator/coordinator_metrics.h"

#include <optional>

#include "common/rpc/task_state.h"
#include "coordinator/agent_registry.h"
#include "coordinator/task_table.h"

namespace cwb {
namespace {

std::vector<std::pair<MetricLabels, double>> One(double value) { return {{{}, value}}; }

// A sample per running task whose build reports progress, by build and task: `value` of its
// progress (none: no sample).
std::vector<std::pair<MetricLabels, double>> ProgressSamples(
    std::mutex& mutex, const TaskTable& tasks, const std::function<std::optional<double>(const v1::BuildProgress&)>& value) {
  std::vector<std::pair<MetricLabels, double>> samples;
  std::lock_guard lock(mutex);
  tasks.ForEachCurrentAttempt([&](const TaskRecord& task) {
    const v1::BuildProgress& progress = task.info.progress();
    if (task.info.state() != v1::TASK_STATE_RUNNING || progress.total() == 0) return;
    if (std::optional<double> sample = value(progress)) {
      samples.push_back({{{"build", task.info.build_id()}, {"task", task.info.spec().id()}}, *sample});
    }
  });
  return samples;
}

}  // namespace

CoordinatorMetrics::CoordinatorMetrics()
    : queue_wait_(&registry_.HistogramOf("cwb_queue_wait_seconds", "Time from queued to assigned, per attempt",
                                         {0.01, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600})),
      uploaded_bytes_(&registry_.CounterOf("cwb_uploaded_bytes_total", "Bytes of wheels agents uploaded")),
      result_cache_hits_(&registry_.CounterOf("cwb_result_cache_hits_total",
                                              "Tasks completed from the result cache, nothing built")) {}

void CoordinatorMetrics::AddGauges(std::mutex& mutex, const TaskTable& tasks, const AgentRegistry& agents,
                                   std::function<bool()> writable) {
  registry_.Gauge("cwb_state_writable",
                  "1 while the coordinator's state can be written; 0 while it cannot (a full disk): then it "
                  "assigns nothing and answers UNAVAILABLE",
                  [writable = std::move(writable)] { return One(writable() ? 1 : 0); });
  registry_.Gauge("cwb_tasks", "Tasks by state, over every stored build", [&mutex, &tasks] {
    StateTotals totals;
    {
      std::lock_guard lock(mutex);
      totals = tasks.Totals();
    }
    std::vector<std::pair<MetricLabels, double>> samples;
    for (v1::TaskState state : {v1::TASK_STATE_QUEUED, v1::TASK_STATE_ASSIGNED, v1::TASK_STATE_RUNNING,
                                v1::TASK_STATE_BUILT, v1::TASK_STATE_SUCCEEDED, v1::TASK_STATE_FAILED,
                                v1::TASK_STATE_CANCELLED}) {
      samples.push_back({{{"state", StateName(state)}}, static_cast<double>(totals[state])});
    }
    return samples;
  });
  registry_.Gauge("cwb_queue_length", "Tasks waiting for an agent: to be built, or built and waiting for a GPU to test",
                  [&mutex, &tasks] {
    std::lock_guard lock(mutex);
    const StateTotals totals = tasks.Totals();
    return One(static_cast<double>(totals[v1::TASK_STATE_QUEUED] + totals[v1::TASK_STATE_BUILT]));
  });
  registry_.Gauge("cwb_task_progress_ratio",
                  "How far each running task's build is (done steps / total, from its ninja or make progress "
                  "lines), for tasks whose build says", [&mutex, &tasks] {
    return ProgressSamples(mutex, tasks, [](const v1::BuildProgress& progress) {
      return std::optional<double>(static_cast<double>(progress.done()) / progress.total());
    });
  });
  registry_.Gauge("cwb_task_seconds_left",
                  "The estimated time left of each running task whose build reports progress (from its "
                  "target's last build time, else its own pace so far), when it last reported", [&mutex, &tasks] {
    return ProgressSamples(mutex, tasks, [](const v1::BuildProgress& progress) {
      return progress.left_ms() < 0 ? std::nullopt : std::optional<double>(static_cast<double>(progress.left_ms()) / 1000.0);
    });
  });
  registry_.Gauge("cwb_agents_connected", "Agents with a session open now", [&mutex, &agents] {
    std::lock_guard lock(mutex);
    return One(static_cast<double>(agents.connected()));
  });
}

void CoordinatorMetrics::ObserveEnd(const v1::TaskInfo& task) {
  if (task.started_at_ms() <= 0 || task.finished_at_ms() < task.started_at_ms()) return;
  registry_
      .HistogramOf("cwb_build_duration_seconds", "Time a task's attempt ran, from running to its end",
                   DurationBuckets(), {{"state", StateName(task.state())}})
      .Observe(static_cast<double>(task.finished_at_ms() - task.started_at_ms()) / 1000.0);
}

void CoordinatorMetrics::ObserveUse(const v1::ResourceUse& use) {
  if (use.jobs() == 0) return;  // not measured
  static const std::vector<double> kGiBBuckets = {0.25, 0.5, 1, 2, 4, 8, 16, 32, 64, 128, 256};
  registry_
      .HistogramOf("cwb_build_peak_memory_gibibytes",
                   "Peak memory of an attempt's whole build (its cgroup), as the agent measured it", kGiBBuckets)
      .Observe(static_cast<double>(use.peak_memory_bytes()) / (1ull << 30));
  if (use.out_of_memory()) {
    registry_.CounterOf("cwb_builds_out_of_memory_total", "Attempts whose build ran out of memory").Add();
  }
}

void CoordinatorMetrics::ObserveCompileCache(const std::string& agent_id, const v1::CompileCacheStats& stats) {
  static const std::string kHelp =
      "Compiler calls of builds through the compile cache, by agent and result (hit: served from the cache, "
      "remote_hit: of those, from the shared store; miss: compiled and stored; uncacheable)";
  const std::pair<const char*, uint64_t> results[] = {{"hit", stats.hits()},
                                                      {"remote_hit", stats.remote_hits()},
                                                      {"miss", stats.misses()},
                                                      {"uncacheable", stats.uncacheable()}};
  for (const auto& [result, count] : results) {
    registry_.CounterOf("cwb_compile_cache_calls_total", kHelp, {{"agent", agent_id}, {"result", result}})
        .Add(static_cast<double>(count));
  }
}

}  // namespace cwb
