// Time behind an interface so tests can drive it. Production code uses SystemClock; unit tests use
// FakeClock (tests/fakes), which only moves when the test advances it.
#pragma once

#include <chrono>
#include <string>

namespace cwb {

class Cancellation;

class Clock {
 public:
  using WallTime = std::chrono::system_clock::time_point;
  using SteadyTime = std::chrono::steady_clock::time_point;

  virtual ~Clock() = default;
  // Wall-clock time, for timestamps people read.
  virtual WallTime WallNow() = 0;
  // Monotonic time, for deadlines and durations.
  virtual SteadyTime SteadyNow() = 0;
  // Blocks until SteadyNow() >= deadline (returns true) or `cancel` fires first (returns false).
  // `cancel` may be null. Thread-safe.
  virtual bool SleepUntil(SteadyTime deadline, Cancellation* cancel) = 0;
};

// The real clocks. Thread-safe; one shared instance is enough.
class SystemClock final : public Clock {
 public:
  static SystemClock& Get();
  WallTime WallNow() override { return std::chrono::system_clock::now(); }
  SteadyTime SteadyNow() override { return std::chrono::steady_clock::now(); }
  bool SleepUntil(SteadyTime deadline, Cancellation* cancel) override;
};

// "2026-11-25T04:30:00.123Z" (UTC, milliseconds).
std::string FormatTimestamp(Clock::WallTime time);

}  // namespace cwb
