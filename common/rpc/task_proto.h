// Conversions between the planner's structs and the cwb.v1 wire/disk messages, and the JSON
// form used by `cwb plan --json` and `cwb-agent run-task TASK.json`.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "common/config/dockerfile_renderer.h"
#include "common/config/planner.h"
#include "cwb/v1/task.pb.h"

namespace cwb {

v1::TaskSpec ToProto(const PlannedTask& task);
v1::BuildPlan ToProto(const BuildPlan& plan);

// The image recipe a TaskSpec carries, for rendering on the agent.
ImageRecipe RecipeFromProto(const v1::TaskSpec& task);
AxisValues AxesFromProto(const google::protobuf::RepeatedPtrField<v1::AxisValue>& axes);
AxisValues AxesFromProto(const v1::TaskSpec& task);
// Appends `axes` to a message's axis list (a TaskSpec's, an UnsupportedTarget's).
void AppendAxes(const AxisValues& axes, google::protobuf::RepeatedPtrField<v1::AxisValue>* out);
// Whether the task builds for CUDA (its cuda_version is not "cpu") and so needs a GPU.
bool NeedsGpu(const v1::TaskSpec& task);

// Pretty JSON with the proto field names (snake_case).
std::string ToJson(const google::protobuf::Message& message);
// The same on one line (JSON Lines).
std::string ToJsonLine(const google::protobuf::Message& message);
// Parses JSON into `message`; unknown fields are an error naming the field.
absl::Status FromJson(const std::string& json, google::protobuf::Message* message);

}  // namespace cwb
