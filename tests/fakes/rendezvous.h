// How long a test waits for the code under test to reach a point (a thread asleep on the fake
// clock, a command run, a batch sent) before it fails instead of hanging. A bound on a hang, not
// a measure of speed: nothing asserts how fast the point is reached.
#pragma once

#include <chrono>

namespace cwb::testing {

inline constexpr std::chrono::seconds kRendezvousLimit{60};

}  // namespace cwb::testing
