// The results manifest `cwb fetch` and `cwb build` keep beside the wheels they write,
// <output>/wheelhouse/cwb-results.json (a v1.WheelhouseManifest in JSON): the latest finished
// result of each cell (a project at one value of every axis), which `cwb coverage` reads.
// Rewritten whole (temp, rename) while holding <wheelhouse>/.cwb-results.lock, so fetches into one
// wheelhouse at the same time lose no entry.
#pragma once

#include <filesystem>
#include <vector>

#include "absl/status/statusor.h"
#include "cwb/v1/state.pb.h"

namespace cwb {

inline constexpr char kWheelhouseManifest[] = "cwb-results.json";

// The manifest of `wheelhouse`; empty when it has none. InvalidArgument, naming the file, when
// it is not a manifest.
absl::StatusOr<v1::WheelhouseManifest> ReadWheelhouseManifest(const std::filesystem::path& wheelhouse);

// Records `results` (finished tasks, summaries): each replaces the entry of its cell, the others
// stay. Unfinished tasks are not recorded.
absl::Status RecordWheelhouseResults(const std::filesystem::path& wheelhouse,
                                     const google::protobuf::RepeatedPtrField<v1::TaskInfo>& results);

}  // namespace cwb
