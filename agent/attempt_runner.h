// How an agent runs one attempt: the GPUs it gets from the GpuAllocator (waiting for them if
// need be), then the BuildPipeline, its log lines batched onto the session as they come (a line
// made while disconnected stays in the attempt's own log file).
#pragma once

#include "agent/agent_daemon.h"
#include "agent/build_pipeline.h"
#include "agent/gpu_allocator.h"
#include "common/base/clock.h"

namespace cwb {

AgentDaemon::Runner MakePipelineRunner(BuildPipeline& pipeline, GpuAllocator& gpus, Clock& clock);

}  // namespace cwb
