#include "common/clock.h"

#include <condition_variable>
#include <mutex>

#include "common/cancellation.h"

namespace cwb {

SystemClock& SystemClock::Get() {
  static SystemClock clock;
  return clock;
}

bool SystemClock::SleepUntil(SteadyTime deadline, Cancellation* cancel) {
  std::mutex mutex;
  std::condition_variable cv;
  bool woken = false;
  Cancellation::Subscription subscription;
  if (cancel != nullptr) {
    subscription = cancel->Subscribe([&] {
      std::lock_guard lock(mutex);
      woken = true;
      cv.notify_all();
    });
  }
  std::unique_lock lock(mutex);
  cv.wait_until(lock, deadline, [&] { return woken; });
  return !woken;
}

}  // namespace cwb
