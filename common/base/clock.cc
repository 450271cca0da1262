#include "common/base/clock.h"

#include <condition_variable>
#include <ctime>
#include <mutex>

#include "absl/strings/str_format.h"
#include "common/base/cancellation.h"

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

std::string FormatTimestamp(Clock::WallTime time) {
  const auto since_epoch = time.time_since_epoch();
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - seconds).count();
  const std::time_t t = seconds.count();
  std::tm utc{};
  gmtime_r(&t, &utc);
  return absl::StrFormat("%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900, utc.tm_mon + 1,
                         utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, static_cast<int>(millis));
}

}  // namespace cwb
