#include "agent/log_batcher.h"

#include "agent/build_progress.h"

namespace cwb {

LogBatcher::LogBatcher(const std::string& build_id, const std::string& task_id,
                       const std::string& attempt_id, Send send, Clock& clock,
                       std::chrono::milliseconds max_delay)
    : send_(std::move(send)), clock_(clock), max_delay_(max_delay) {
  v1::LogBatch* batch = message_.mutable_logs();
  batch->set_build_id(build_id);
  batch->set_task_id(task_id);
  batch->set_attempt_id(attempt_id);
  timer_ = std::thread([this] { TimerLoop(); });
}

LogBatcher::~LogBatcher() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  has_lines_.notify_all();
  stop_.Cancel("stopping");
  timer_.join();
  std::lock_guard lock(mutex_);
  SendLocked();
}

void LogBatcher::Add(const LogLine& line) {
  std::lock_guard lock(mutex_);
  v1::LogLine* out = message_.mutable_logs()->add_lines();
  out->set_time_ms(
      std::chrono::duration_cast<std::chrono::milliseconds>(line.time.time_since_epoch()).count());
  out->set_source(line.source);
  out->set_text(line.text);
  bytes_ += line.text.size() + line.source.size() + 16;
  // The build's own progress lines (not cwb's, git's or the image build's) say how far it is.
  if (line.source.starts_with("build") && !line.text.empty()) {
    if (std::optional<v1::BuildProgress> progress = ParseProgressLine(line.text)) {
      *message_.mutable_logs()->mutable_progress() = *progress;
    }
  }
  if (message_.logs().lines_size() == 1) {
    first_line_at_ = clock_.SteadyNow();
    has_lines_.notify_all();
  }
  if (bytes_ >= kMaxBytes || message_.logs().lines_size() >= kMaxLines) SendLocked();
}

void LogBatcher::SendLocked() {
  if (message_.logs().lines_size() == 0) return;
  send_(message_);
  message_.mutable_logs()->clear_lines();
  message_.mutable_logs()->clear_progress();
  bytes_ = 0;
}

void LogBatcher::TimerLoop() {
  std::unique_lock lock(mutex_);
  while (true) {
    has_lines_.wait(lock, [&] { return stopping_ || message_.logs().lines_size() > 0; });
    if (stopping_) return;
    const Clock::SteadyTime deadline = first_line_at_ + max_delay_;
    lock.unlock();
    const bool reached = clock_.SleepUntil(deadline, &stop_);
    lock.lock();
    if (!reached) return;
    if (clock_.SteadyNow() >= first_line_at_ + max_delay_) SendLocked();
  }
}

}  // namespace cwb
