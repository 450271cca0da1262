#include "agent/attempt_runner.h"

#include "agent/log_batcher.h"
#include "common/rpc/task_proto.h"

namespace cwb {

AgentDaemon::Runner MakePipelineRunner(BuildPipeline& pipeline, GpuAllocator& gpus, Clock& clock) {
  return [&pipeline, &gpus, &clock](const v1::Assignment& assignment, Cancellation& cancel,
                                    const AgentDaemon::Send& send, const AgentDaemon::Calls& calls) {
    TaskResult result;
    absl::StatusOr<GpuGrant> grant =
        gpus.Acquire(assignment.attempt_id(), NeedsGpu(assignment.spec(), assignment.step()), &cancel);
    if (!grant.ok()) {
      result.outcome = cancel.cancelled() ? TaskOutcome::kCancelled : TaskOutcome::kFailed;
      result.message = std::string(grant.status().message());
      return result;
    }
    {
      LogBatcher batcher(assignment.build_id(), assignment.spec().id(), assignment.attempt_id(), send, clock,
                         std::chrono::milliseconds(100));
      result = pipeline.Run({&assignment.spec(), assignment.attempt_id(), grant->request,
                             [&](const LogLine& line) { batcher.Add(line); }, &cancel, CudaArchList(grant->gpus),
                             DescribeGpus(*grant), assignment.trust_domain(), assignment.share(), assignment.step(),
                             {assignment.held_wheels().begin(), assignment.held_wheels().end()}, calls.fetch_wheel,
                             calls.open_compile_cache});
    }
    gpus.Release(assignment.attempt_id());
    return result;
  };
}

}  // namespace cwb
