// A one-shot cancellation signal shared by whoever runs a piece of work and whoever may stop it.
// Cancel() is idempotent and thread-safe; subscribers run synchronously on the cancelling thread
// (or at once, on the subscribing thread, if already cancelled) and must not block. Once a
// Subscription is reset or destroyed its callback is not running and will not run.
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>

namespace cwb {

class Cancellation {
 public:
  using Callback = std::function<void()>;

  // Unsubscribes on destruction; keep it alive as long as the callback's captures are valid.
  class Subscription {
   public:
    Subscription() = default;
    Subscription(Cancellation* owner, int id) : owner_(owner), id_(id) {}
    Subscription(Subscription&& other) noexcept { *this = std::move(other); }
    Subscription& operator=(Subscription&& other) noexcept;
    ~Subscription() { Reset(); }
    void Reset();

   private:
    Cancellation* owner_ = nullptr;
    int id_ = 0;
  };

  // Fires once; later calls are ignored (the first reason is kept).
  void Cancel(const std::string& reason);
  bool cancelled() const;
  std::string reason() const;

  [[nodiscard]] Subscription Subscribe(Callback callback);

  // Blocks until cancelled (used by worker threads with nothing else to wait on).
  void Wait() const;

 private:
  void Unsubscribe(int id);

  mutable std::mutex mutex_;
  mutable std::condition_variable cancelled_cv_;
  bool cancelled_ = false;
  std::string reason_;
  bool running_callbacks_ = false;  // Cancel() is running callbacks outside the lock
  std::thread::id cancelling_thread_;
  int next_id_ = 1;
  std::map<int, Callback> callbacks_;
};

// Blocks until `a` or `b` fires.
void WaitForAny(Cancellation& a, Cancellation& b);

}  // namespace cwb
