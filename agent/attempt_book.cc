#include "agent/attempt_book.h"

#include <algorithm>
#include <filesystem>

namespace cwb {

AttemptBook::~AttemptBook() {
  std::map<std::string, std::unique_ptr<Entry>> entries;
  {
    std::lock_guard lock(mutex_);
    entries.swap(entries_);
  }
  for (auto& [id, entry] : entries) entry->cancel.Cancel("the agent is stopping");
  for (auto& [id, entry] : entries) {
    if (entry->thread.joinable()) entry->thread.join();
  }
}

void AttemptBook::Start(const v1::Assignment& assignment) {
  std::lock_guard lock(mutex_);
  if (entries_.count(assignment.attempt_id())) return;
  auto entry = std::make_unique<Entry>();
  entry->assignment = assignment;
  Entry* raw = entry.get();
  entries_[assignment.attempt_id()] = std::move(entry);
  raw->thread = std::thread([this, raw] {
    TaskResult result = execute_(raw->assignment, raw->cancel);
    {
      std::lock_guard lock(mutex_);
      raw->result = std::move(result);
      raw->finished = true;
    }
    changed_.notify_all();
  });
}

void AttemptBook::Cancel(const std::string& attempt_id, const std::string& reason) {
  std::lock_guard lock(mutex_);
  if (auto it = entries_.find(attempt_id); it != entries_.end()) it->second->cancel.Cancel(reason);
}

void AttemptBook::CancelAll(const std::string& reason) {
  std::lock_guard lock(mutex_);
  for (auto& [id, entry] : entries_) entry->cancel.Cancel(reason);
}

void AttemptBook::Abandon(const std::vector<std::string>& attempt_ids) {
  {
    std::lock_guard lock(mutex_);
    for (const std::string& id : attempt_ids) {
      auto it = entries_.find(id);
      if (it == entries_.end()) continue;
      it->second->abandoned = true;
      it->second->cancel.Cancel("the coordinator no longer wants this attempt");
    }
  }
  changed_.notify_all();
}

v1::Register AttemptBook::RegisterMessage(const std::string& agent_id,
                                          const v1::AgentCapabilities& capabilities) const {
  v1::Register hello;
  hello.set_agent_id(agent_id);
  *hello.mutable_capabilities() = capabilities;
  std::lock_guard lock(mutex_);
  for (const auto& [id, entry] : entries_) {
    if (entry->abandoned) continue;
    v1::RunningAttempt* running = hello.add_running();
    running->set_build_id(entry->assignment.build_id());
    running->set_task_id(entry->assignment.spec().id());
    running->set_attempt_id(id);
  }
  return hello;
}

std::optional<AttemptBook::Finished> AttemptBook::NextFinished(Cancellation& stop) {
  auto on_stop = stop.Subscribe([this] {
    std::lock_guard lock(mutex_);
    changed_.notify_all();
  });
  std::unique_lock lock(mutex_);
  while (!stop.cancelled()) {
    auto finished = std::find_if(entries_.begin(), entries_.end(), [](const auto& e) { return e.second->finished; });
    if (finished == entries_.end()) {
      changed_.wait(lock);
      continue;
    }
    if (!finished->second->abandoned) return Finished{finished->second->assignment, finished->second->result};
    std::unique_ptr<Entry> dropped = TakeLocked(finished->first);
    lock.unlock();
    Dispose(std::move(dropped));
    lock.lock();
  }
  return std::nullopt;
}

void AttemptBook::Forget(const std::string& attempt_id) {
  std::unique_ptr<Entry> entry;
  {
    std::lock_guard lock(mutex_);
    entry = TakeLocked(attempt_id);
  }
  Dispose(std::move(entry));
}

size_t AttemptBook::size() const {
  std::lock_guard lock(mutex_);
  return std::count_if(entries_.begin(), entries_.end(), [](const auto& e) { return !e.second->abandoned; });
}

std::unique_ptr<AttemptBook::Entry> AttemptBook::TakeLocked(const std::string& attempt_id) {
  auto it = entries_.find(attempt_id);
  if (it == entries_.end()) return nullptr;
  std::unique_ptr<Entry> entry = std::move(it->second);
  entries_.erase(it);
  return entry;
}

void AttemptBook::Dispose(std::unique_ptr<Entry> entry) {
  if (entry == nullptr) return;
  if (entry->thread.joinable()) entry->thread.join();
  std::error_code ignored;
  for (const BuiltWheel& wheel : entry->result.wheels) std::filesystem::remove(wheel.path, ignored);
}

}  // namespace cwb
