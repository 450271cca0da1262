#include "common/base/cancellation.h"

#include <vector>

namespace cwb {

Cancellation::Subscription& Cancellation::Subscription::operator=(Subscription&& other) noexcept {
  if (this != &other) {
    Reset();
    owner_ = other.owner_;
    id_ = other.id_;
    other.owner_ = nullptr;
  }
  return *this;
}

void Cancellation::Subscription::Reset() {
  if (owner_ != nullptr) owner_->Unsubscribe(id_);
  owner_ = nullptr;
}

void Cancellation::Cancel(const std::string& reason) {
  std::vector<Callback> to_run;
  {
    std::lock_guard lock(mutex_);
    if (cancelled_) return;
    cancelled_ = true;
    reason_ = reason;
    for (auto& [id, callback] : callbacks_) to_run.push_back(callback);
    running_callbacks_ = true;
    cancelling_thread_ = std::this_thread::get_id();
  }
  for (Callback& callback : to_run) callback();
  {
    std::lock_guard lock(mutex_);
    running_callbacks_ = false;
  }
  cancelled_cv_.notify_all();
}

bool Cancellation::cancelled() const {
  std::lock_guard lock(mutex_);
  return cancelled_;
}

std::string Cancellation::reason() const {
  std::lock_guard lock(mutex_);
  return reason_;
}

Cancellation::Subscription Cancellation::Subscribe(Callback callback) {
  {
    std::lock_guard lock(mutex_);
    if (!cancelled_) {
      const int id = next_id_++;
      callbacks_.emplace(id, std::move(callback));
      return Subscription(this, id);
    }
  }
  callback();
  return Subscription();
}

void Cancellation::Unsubscribe(int id) {
  std::unique_lock lock(mutex_);
  callbacks_.erase(id);
  // A callback copied out by Cancel() may still be running on another thread: wait for it.
  if (cancelling_thread_ != std::this_thread::get_id()) {
    cancelled_cv_.wait(lock, [&] { return !running_callbacks_; });
  }
}

void Cancellation::Wait() const {
  std::unique_lock lock(mutex_);
  cancelled_cv_.wait(lock, [&] { return cancelled_ && !running_callbacks_; });
}

void WaitForAny(Cancellation& a, Cancellation& b) {
  Cancellation either;
  auto on_a = a.Subscribe([&] { either.Cancel("a"); });
  auto on_b = b.Subscribe([&] { either.Cancel("b"); });
  either.Wait();
}

}  // namespace cwb
