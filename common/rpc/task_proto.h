// Conversions between the planner's structs and the cwb.v1 wire/disk messages, and the JSON
// form used by `cwb plan --json` and `cwb-agent run-task TASK.json`.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "common/config/dockerfile_renderer.h"
#include "common/config/planner.h"
#include "cwb/v1/agent.pb.h"
#include "cwb/v1/task.pb.h"

namespace cwb {

v1::TaskSpec ToProto(const PlannedTask& task);
v1::BuildPlan ToProto(const BuildPlan& plan);

// The stable id of a spec's task, computed from the spec as TaskId computes it from the plan (the
// coordinator checks each submitted id with it).
std::string TaskIdOf(const v1::TaskSpec& spec);
// The image recipe of a spec stored before rendered Dockerfiles travelled (it carries the
// template), for rendering it once more.
ImageRecipe RecipeFromProto(const v1::TaskSpec& task);
AxisValues AxesFromProto(const google::protobuf::RepeatedPtrField<v1::AxisValue>& axes);
AxisValues AxesFromProto(const v1::TaskSpec& task);
// Appends `axes` to a message's axis list (a TaskSpec's, an UnsupportedTarget's).
void AppendAxes(const AxisValues& axes, google::protobuf::RepeatedPtrField<v1::AxisValue>* out);
// The agent's status update of the assignment's attempt, now in `state`.
v1::AgentMessage StatusUpdate(const v1::Assignment& assignment, v1::TaskState state);
// Whether the task builds for CUDA (its cuda_version is not "cpu").
bool IsCudaCell(const v1::TaskSpec& task);
// The step of a task's first attempt: BUILD for a CUDA cell with a smoke test whose build needs no
// GPU (its TEST step follows on an agent with one), WHOLE for everything else.
v1::TaskStep FirstStep(const v1::TaskSpec& task);
// The step the next attempt of a task in `state` runs: TEST once BUILT, else FirstStep.
v1::TaskStep NextStep(const v1::TaskSpec& task, v1::TaskState state);
// Whether an attempt of `step` holds a GPU: a CUDA cell's TEST, or its WHOLE attempt when the build
// needs one (build_needs_gpu) or the smoke test runs in it.
bool NeedsGpu(const v1::TaskSpec& task, v1::TaskStep step);
// "build", "test", "build and test".
const char* StepName(v1::TaskStep step);

// Pretty JSON with the proto field names (snake_case).
std::string ToJson(const google::protobuf::Message& message);
// The same on one line (JSON Lines).
std::string ToJsonLine(const google::protobuf::Message& message);
// Parses JSON into `message`; unknown fields are an error naming the field.
absl::Status FromJson(const std::string& json, google::protobuf::Message* message);

}  // namespace cwb
