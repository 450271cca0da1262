// A clock that only moves when the test calls Advance(). SleepUntil blocks until the test advances
// past the deadline or the cancellation fires, so code with timeouts is tested without sleeping.
#pragma once

#include <condition_variable>
#include <mutex>
#include <set>

#include "common/base/cancellation.h"
#include "common/base/clock.h"
#include "tests/fakes/rendezvous.h"

namespace cwb::testing {

class FakeClock final : public Clock {
 public:
  FakeClock() : wall_(std::chrono::sys_days{std::chrono::year{2026} / 1 / 2} + std::chrono::hours(3)) {}

  WallTime WallNow() override {
    std::lock_guard lock(mutex_);
    return wall_;
  }
  SteadyTime SteadyNow() override {
    std::lock_guard lock(mutex_);
    return steady_;
  }
  bool SleepUntil(SteadyTime deadline, Cancellation* cancel) override {
    bool cancelled = false;
    Cancellation::Subscription subscription;
    if (cancel != nullptr) {
      subscription = cancel->Subscribe([&] {
        std::lock_guard lock(mutex_);
        cancelled = true;
        cv_.notify_all();
      });
    }
    std::unique_lock lock(mutex_);
    ++sleepers_;
    auto entry = deadlines_.insert(deadline);
    sleepers_cv_.notify_all();
    cv_.wait(lock, [&] { return cancelled || steady_ >= deadline; });
    --sleepers_;
    deadlines_.erase(entry);
    return !cancelled;
  }

  void Advance(std::chrono::nanoseconds by) {
    std::lock_guard lock(mutex_);
    wall_ += std::chrono::duration_cast<std::chrono::system_clock::duration>(by);
    steady_ += by;
    cv_.notify_all();
  }
  // Blocks until at least `count` threads are inside SleepUntil (a rendezvous, not a sleep);
  // false if they are not there within kRendezvousLimit.
  [[nodiscard]] bool WaitForSleepers(int count) {
    std::unique_lock lock(mutex_);
    return sleepers_cv_.wait_for(lock, kRendezvousLimit, [&] { return sleepers_ >= count; });
  }
  // Blocks until a thread sleeps until exactly `deadline`; false if none does within
  // kRendezvousLimit (for code whose waits the test knows to the tick).
  [[nodiscard]] bool WaitForSleeperUntil(SteadyTime deadline) {
    std::unique_lock lock(mutex_);
    return sleepers_cv_.wait_for(lock, kRendezvousLimit, [&] { return deadlines_.count(deadline) > 0; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::condition_variable sleepers_cv_;
  int sleepers_ = 0;
  std::multiset<SteadyTime> deadlines_;  // of the threads asleep
  WallTime wall_;
  SteadyTime steady_{};
};

}  // namespace cwb::testing
