// Reads a build tool's progress from its output lines: ninja's "[12/345] ..." and make's (or
// CMake's) "[ 42%] ...", also indented as pip prints its build backend's output. A pure function:
// the agent sends the latest figure with the log lines (LogBatch.progress).
#pragma once

#include <optional>
#include <string_view>

#include "cwb/v1/state.pb.h"

namespace cwb {

// done and total of a progress line; nullopt for any other line (or a figure that makes no sense:
// done past total, a total of 0 or past ten million).
std::optional<v1::BuildProgress> ParseProgressLine(std::string_view line);

}  // namespace cwb
