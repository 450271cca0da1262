// Coverage of a build matrix: which cells (a project at one value of every axis) have their
// wheels, which failed and why, which are missing, and which no PyTorch release supports.
// `cwb coverage` computes it from a wheelhouse's manifest or a coordinator's build, the
// dashboard from a build; both print Markdown with CoverageMarkdown.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "cwb/v1/state.pb.h"
#include "cwb/v1/task.pb.h"

namespace cwb {

// The identity of a cell, which results of different builds (and specs) of it share: its
// project and every axis value.
std::string CellKey(const v1::TaskSpec& spec);

// Why an artifact a result names is not usable (its file is gone); "" when it is there.
using WheelCheck = std::function<std::string(const v1::ArtifactInfo& artifact)>;

// The report of the `planned` tasks (in plan order) and the `unsupported` combinations, given
// the latest known result of each cell, matched by project and axes: a SUCCEEDED result whose
// wheels all pass `check` is built, a FAILED one failed, anything else (none, cancelled, still
// queued or running, a wheel gone) missing with the reason. A result from another spec than the
// planned one is marked outdated.
v1::CoverageReport MakeCoverage(const std::string& config_name, const std::vector<const v1::TaskSpec*>& planned,
                                const google::protobuf::RepeatedPtrField<v1::UnsupportedTarget>& unsupported,
                                const std::vector<const v1::TaskInfo*>& results, const WheelCheck& check);

// "built", "failed", "missing", "unsupported".
std::string CoverageStatusName(v1::CoverageStatus status);

// Where a wheel of a cell is linked from the Markdown: a relative path, or a URL.
using WheelLink = std::function<std::string(const v1::CoverageCell& cell, const std::string& wheel)>;

// The report as Markdown for a README: the totals, then per project a grid (rows: Python;
// columns: CUDA, torch and extra axes) of ✅ (linked to the wheel), ❌, ⬜ and ➖ cells, then each
// cell that is not built with its reason, and a legend.
std::string CoverageMarkdown(const v1::CoverageReport& report, const WheelLink& link);

}  // namespace cwb
