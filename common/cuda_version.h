// CUDA version compatibility between a driver and a build target.
#pragma once

#include <string_view>

namespace cwb {

// True when a task built for `task_cuda` ("12.1" or "cpu") can run on a driver supporting
// `driver_cuda` ("12.4"). Compares major.minor numerically; false when either is malformed.
bool DriverSupportsCuda(std::string_view driver_cuda, std::string_view task_cuda);

}  // namespace cwb
