// Version comparisons the scheduler relies on: a driver's CUDA against a task's, and a task's
// PyTorch or CUDA version against what a host's toolchain was built for.
#pragma once

#include <string_view>

namespace cwb {

// "12.4" (or "11.8.0") -> 12 and 4; false when the first two dot-separated parts are not numbers.
bool ParseMajorMinor(std::string_view version, int* major, int* minor);

// True when a task built for `task_cuda` ("12.1" or "cpu") can run on a driver supporting
// `driver_cuda` ("12.4"). Compares major.minor numerically; false when either is malformed.
bool DriverSupportsCuda(std::string_view driver_cuda, std::string_view task_cuda);

// True when the release `wanted` as a config writes it ("2.11", "2.11.0") names the installed
// `actual` ("2.11.0+cu130"): each dot-separated number of `wanted` equals the one at its place in
// `actual`, whose local label ("+cu130") is ignored. "2.1" does not match "2.11.0".
bool ReleaseMatches(std::string_view wanted, std::string_view actual);

}  // namespace cwb
