// A CoordinatorLink the test scripts: each Open takes the next answer (a refusal, an unreachable
// coordinator, or a session with its ack) and notes when it was asked on the clock; a session
// records what the agent sends and uploads, hands the agent what the test delivers, and answers
// uploads as the test says. Waits for the agent are rendezvous with a bound, never sleeps.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "agent/coordinator_link.h"
#include "common/base/clock.h"
#include "tests/fakes/rendezvous.h"

namespace cwb::testing {

class FakeSession {
 public:
  // How the coordinator answers each upload; default: accepted.
  std::function<absl::Status(const v1::Assignment&, const BuiltWheel&)> on_upload;
  // How it answers each held-wheel download (writing the file is the test's); default: NotFound.
  std::function<absl::Status(const v1::Assignment&, const v1::ArtifactInfo&, const std::filesystem::path&)>
      on_download;
  // How it answers OpenCompileCache; default: no shared store.
  std::function<absl::StatusOr<v1::CompileCacheAccess>(const v1::Assignment&)> on_open_compile_cache;

  void Deliver(v1::CoordinatorMessage message) {
    std::lock_guard lock(mutex_);
    inbox_.push_back(std::move(message));
    cv_.notify_all();
  }
  // The coordinator ends the session (the agent's Read returns false).
  void End() {
    std::lock_guard lock(mutex_);
    ended_ = true;
    cv_.notify_all();
  }
  std::vector<v1::AgentMessage> Sent() const {
    std::lock_guard lock(mutex_);
    return sent_;
  }
  std::vector<std::string> Uploaded() const {
    std::lock_guard lock(mutex_);
    return uploaded_;
  }
  // Blocks until a message the agent sent satisfies `match`; false after kRendezvousLimit.
  [[nodiscard]] bool WaitForSent(const std::function<bool(const v1::AgentMessage&)>& match) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, kRendezvousLimit, [&] {
      for (const v1::AgentMessage& m : sent_) {
        if (match(m)) return true;
      }
      return false;
    });
  }

  // ---- the agent's side, through the handle Open gives it ----
  bool Send(const v1::AgentMessage& message) {
    std::lock_guard lock(mutex_);
    if (ended_ || closed_) return false;
    sent_.push_back(message);
    cv_.notify_all();
    return true;
  }
  bool Read(v1::CoordinatorMessage* message) {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [&] { return !inbox_.empty() || ended_ || closed_; });
    if (inbox_.empty()) return false;
    *message = std::move(inbox_.front());
    inbox_.pop_front();
    return true;
  }
  absl::Status Upload(const v1::Assignment& assignment, const BuiltWheel& wheel) {
    absl::Status status = on_upload ? on_upload(assignment, wheel) : absl::OkStatus();
    std::lock_guard lock(mutex_);
    if (status.ok()) uploaded_.push_back(wheel.filename);
    return status;
  }
  absl::Status Download(const v1::Assignment& assignment, const v1::ArtifactInfo& wheel,
                        const std::filesystem::path& destination) {
    if (!on_download) return absl::NotFoundError("no download scripted");
    return on_download(assignment, wheel, destination);
  }
  absl::StatusOr<v1::CompileCacheAccess> OpenCompileCache(const v1::Assignment& assignment) {
    if (!on_open_compile_cache) return v1::CompileCacheAccess();
    return on_open_compile_cache(assignment);
  }
  void Close() {
    std::lock_guard lock(mutex_);
    closed_ = true;
    cv_.notify_all();
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<v1::CoordinatorMessage> inbox_;
  std::vector<v1::AgentMessage> sent_;
  std::vector<std::string> uploaded_;
  bool ended_ = false, closed_ = false;
};

class FakeCoordinatorLink final : public CoordinatorLink {
 public:
  explicit FakeCoordinatorLink(Clock& clock) : clock_(clock) {}

  // The next Open is refused or fails with `status`.
  void Fail(absl::Status status) {
    std::lock_guard lock(mutex_);
    answers_.push_back({std::move(status), {}, nullptr});
  }
  // The next Open gets a session, acknowledged with `ack`.
  std::shared_ptr<FakeSession> Accept(v1::RegisterAck ack = {}) {
    auto session = std::make_shared<FakeSession>();
    std::lock_guard lock(mutex_);
    answers_.push_back({absl::OkStatus(), std::move(ack), session});
    return session;
  }
  // Blocks until Open was called `count` times; false after kRendezvousLimit.
  [[nodiscard]] bool WaitForOpens(size_t count) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, kRendezvousLimit, [&] { return hellos_.size() >= count; });
  }
  std::vector<Clock::SteadyTime> OpenTimes() const {
    std::lock_guard lock(mutex_);
    return times_;
  }
  std::vector<v1::Register> Hellos() const {
    std::lock_guard lock(mutex_);
    return hellos_;
  }

  absl::StatusOr<std::unique_ptr<CoordinatorSession>> Open(const v1::Register& hello, v1::RegisterAck* ack,
                                                           Cancellation& stop) override {
    Answer answer{absl::UnavailableError("no answer scripted"), {}, nullptr};
    {
      std::lock_guard lock(mutex_);
      hellos_.push_back(hello);
      times_.push_back(clock_.SteadyNow());
      if (!answers_.empty()) {
        answer = std::move(answers_.front());
        answers_.pop_front();
      }
      cv_.notify_all();
    }
    if (!answer.status.ok()) return answer.status;
    *ack = answer.ack;
    return std::make_unique<Handle>(answer.session, stop);
  }

 private:
  struct Answer {
    absl::Status status;
    v1::RegisterAck ack;
    std::shared_ptr<FakeSession> session;
  };
  // What the agent holds: the shared session, closed when `stop` fires.
  class Handle final : public CoordinatorSession {
   public:
    Handle(std::shared_ptr<FakeSession> session, Cancellation& stop)
        : session_(std::move(session)), on_stop_(stop.Subscribe([s = session_.get()] { s->Close(); })) {}
    bool Send(const v1::AgentMessage& message) override { return session_->Send(message); }
    bool Read(v1::CoordinatorMessage* message) override { return session_->Read(message); }
    absl::Status Upload(const v1::Assignment& assignment, const BuiltWheel& wheel) override {
      return session_->Upload(assignment, wheel);
    }
    absl::Status Download(const v1::Assignment& assignment, const v1::ArtifactInfo& wheel,
                          const std::filesystem::path& destination) override {
      return session_->Download(assignment, wheel, destination);
    }
    absl::StatusOr<v1::CompileCacheAccess> OpenCompileCache(const v1::Assignment& assignment) override {
      return session_->OpenCompileCache(assignment);
    }
    void Close() override { session_->Close(); }

   private:
    std::shared_ptr<FakeSession> session_;
    Cancellation::Subscription on_stop_;
  };

  Clock& clock_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Answer> answers_;
  std::vector<v1::Register> hellos_;
  std::vector<Clock::SteadyTime> times_;
};

}  // namespace cwb::testing
