#include "coordinator/commit_writer.h"

#include <cstdio>

namespace cwb {

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
  cv_.notify_all();
  thread_.join();
  std::lock_guard lock(mutex_);
  running_ = false;
}

void CommitWriter::Submit(Commit commit) {
  if (commit.batch.empty() && commit.deliveries.empty()) return;
  {
    std::lock_guard lock(mutex_);
    if (running_) {
      queue_.push_back(std::move(commit));
      ++submitted_;
      cv_.notify_all();
      return;
    }
  }
  std::vector<Commit> now;
  now.push_back(std::move(commit));
  Write(now);
}

void CommitWriter::Sync() {
  std::unique_lock lock(mutex_);
  const uint64_t target = submitted_;
  cv_.wait(lock, [&] { return written_ >= target || !running_; });
}

void CommitWriter::Write(std::vector<Commit>& commits) {
  StoreBatch merged;
  for (Commit& commit : commits) merged.Append(std::move(commit.batch));
  if (absl::Status s = store_.Apply(merged); !s.ok()) {
    // The in-memory view stays ahead; each task is written again with its next change.
    std::fprintf(stderr, "cwb-coordinator: cannot persist %zu task change(s): %s\n", merged.tasks.size(),
                 std::string(s.message()).c_str());
  }
  for (Commit& commit : commits) {
    for (std::function<void()>& deliver : commit.deliveries) deliver();
  }
}

void CommitWriter::Loop() {
  std::unique_lock lock(mutex_);
  while (true) {
    cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and all written
    std::vector<Commit> commits;
    commits.swap(queue_);
    lock.unlock();
    Write(commits);
    lock.lock();
    written_ += commits.size();
    cv_.notify_all();
  }
}

}  // namespace cwb
