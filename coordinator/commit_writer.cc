#include "coordinator/commit_writer.h"

#include <iostream>

#include "absl/strings/str_cat.h"
#include "common/web/server_log.h"

namespace cwb {
namespace {

std::vector<CommitWriter::Commit> Concat(std::vector<CommitWriter::Commit> first,
                                         std::vector<CommitWriter::Commit> then) {
  for (CommitWriter::Commit& commit : then) first.push_back(std::move(commit));
  return first;
}

}  // namespace

CommitWriter::~CommitWriter() { Stop(); }

void CommitWriter::Start() {
  std::lock_guard lock(mutex_);
  if (running_) return;
  running_ = true;
  stopping_ = false;
  thread_ = std::thread([this] { Loop(); });
}

void CommitWriter::Stop() {
  {
    std::lock_guard lock(mutex_);
    if (!running_) return;
    stopping_ = true;
  }
  stop_retrying_.Cancel("stopping");
  cv_.notify_all();
  thread_.join();
  std::lock_guard lock(mutex_);
  running_ = false;
}

void CommitWriter::Submit(Commit commit) {
  if (commit.batch.empty() && commit.deliveries.empty()) return;
  std::vector<Commit> now;
  {
    std::lock_guard lock(mutex_);
    ++submitted_;
    if (running_) {
      queue_.push_back(std::move(commit));
      cv_.notify_all();
      return;
    }
    // Without the thread: written here, after any commits still waiting.
    now = std::move(waiting_);
    waiting_.clear();
    now.push_back(std::move(commit));
  }
  const size_t count = now.size();
  Commit unwritten;
  absl::Status written = Write(std::move(now), &unwritten);
  std::lock_guard lock(mutex_);
  NoteLocked(written, count);
  if (!written.ok()) waiting_.push_back(std::move(unwritten));
}

absl::Status CommitWriter::Sync() {
  std::unique_lock lock(mutex_);
  const uint64_t target = submitted_;
  cv_.wait(lock, [&] { return written_ >= target || !running_ || !health_.ok(); });
  return health_;
}

absl::Status CommitWriter::health() const {
  std::lock_guard lock(mutex_);
  return health_;
}

absl::Status CommitWriter::Write(std::vector<Commit> commits, Commit* unwritten) {
  Commit merged;
  for (Commit& commit : commits) {
    merged.batch.Append(std::move(commit.batch));
    for (std::function<void()>& deliver : commit.deliveries) merged.deliveries.push_back(std::move(deliver));
  }
  if (absl::Status s = sink_.Apply(merged.batch); !s.ok()) {
    *unwritten = std::move(merged);
    return s;
  }
  for (std::function<void()>& deliver : merged.deliveries) deliver();
  return absl::OkStatus();
}

void CommitWriter::NoteLocked(const absl::Status& written, size_t count) {
  if (written.ok()) {
    written_ += count;
    if (!health_.ok()) {
      LogEvent(std::cerr, "info", absl::StrCat("cwb-coordinator: its state is written again (", count,
                                                " held-back commit(s) written and delivered)"));
    }
  } else if (health_.ok()) {
    LogEvent(std::cerr, "error",
             absl::StrCat("cwb-coordinator: cannot write its state: ", written.message(), "; holding ", count,
                          " commit(s) back (nothing of them is shown), assigning nothing and answering UNAVAILABLE "
                          "until a write goes through; trying again every ",
                          retry_every_.count(), " ms"));
  }
  health_ = written.ok() ? absl::OkStatus() : written;
  cv_.notify_all();
}

void CommitWriter::Loop() {
  std::unique_lock lock(mutex_);
  while (true) {
    cv_.wait(lock, [&] { return stopping_ || !queue_.empty() || !waiting_.empty(); });
    if (!waiting_.empty() && !stopping_) {
      // Waits out the retry interval (new commits queue meanwhile and go with the retry).
      lock.unlock();
      clock_.SleepUntil(clock_.SteadyNow() + retry_every_, &stop_retrying_);
      lock.lock();
    }
    if (queue_.empty() && waiting_.empty()) return;  // stopping, and all written
    std::vector<Commit> commits = Concat(std::move(waiting_), std::move(queue_));
    waiting_.clear();
    queue_.clear();
    const size_t count = commits.size();
    lock.unlock();
    Commit unwritten;
    absl::Status written = Write(std::move(commits), &unwritten);
    lock.lock();
    NoteLocked(written, count);
    if (written.ok()) continue;
    if (stopping_) {
      LogEvent(std::cerr, "error", "cwb-coordinator: stopping with changes it could not write; they are lost");
      return;
    }
    waiting_.push_back(std::move(unwritten));
  }
}

}  // namespace cwb
