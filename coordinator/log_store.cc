#include "coordinator/log_store.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/base/clock.h"

namespace cwb {
namespace {

std::string Format(const v1::LogLine& line) {
  return absl::StrCat(FormatTimestamp(Clock::WallTime(std::chrono::milliseconds(line.time_ms()))), " [",
                      line.source(), "] ", line.text(), "\n");
}

std::string Now() { return FormatTimestamp(std::chrono::system_clock::now()); }

}  // namespace

uint64_t LogStore::SizeLocked(const std::string& key, const std::filesystem::path& path) const {
  auto it = sizes_.find(key);
  if (it != sizes_.end()) return it->second;
  std::error_code error;
  const uint64_t size = std::filesystem::exists(path, error) ? std::filesystem::file_size(path, error) : 0;
  sizes_[key] = size;
  return size;
}

std::filesystem::path LogStore::TailPath(const std::filesystem::path& path, int index) const {
  return std::filesystem::path(absl::StrCat(path.string(), ".tail", index));
}

absl::Status LogStore::WriteLocked(const std::string& key, const std::filesystem::path& path, const std::string& text) {
  if (text.empty()) return absl::OkStatus();
  std::error_code error;
  std::filesystem::create_directories(path.parent_path(), error);
  std::ofstream out(path, std::ios::app | std::ios::binary);
  out << text;
  out.flush();
  if (!out) return absl::ResourceExhaustedError(absl::StrCat("cannot append to ", path.string(), ": ", std::strerror(errno)));
  sizes_[key] = SizeLocked(key, path) + text.size();
  return absl::OkStatus();
}

void LogStore::EndLocked(const std::string& key, const std::filesystem::path& path, AttemptLog& log) {
  // Tail files of an attempt this store no longer knows (a restart) end with it too.
  std::error_code error;
  const bool tails = std::filesystem::exists(TailPath(path, 0), error) || std::filesystem::exists(TailPath(path, 1), error);
  if (!log.cut && !tails) return;
  const int older = 1 - log.tail;
  std::string tail;
  for (int index : {older, log.tail}) {
    std::ifstream in(TailPath(path, index), std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    tail += text.str();
  }
  (void)WriteLocked(key, path,
                    absl::StrCat(Now(), " [cwb] log cut here: the attempt wrote more than ", max_bytes_per_attempt_ / 2,
                                 " bytes; ", log.left_out, " bytes left out, its last ", tail.size(), " follow\n", tail));
  std::filesystem::remove(TailPath(path, 0), error);
  std::filesystem::remove(TailPath(path, 1), error);
  log = AttemptLog{log.attempt};
}

absl::Status LogStore::Append(const std::string& build, const std::string& task, const std::string& attempt,
                              const std::vector<v1::LogLine>& lines) {
  const std::filesystem::path path = PathOf(build, task);
  const std::string key = absl::StrCat(build, "/", task);
  const uint64_t head_limit = max_bytes_per_attempt_ / 2, tail_file_limit = max_bytes_per_attempt_ / 4;
  absl::Status status;
  {
    std::lock_guard lock(mutex_);
    auto [it, fresh] = attempts_.try_emplace(key);
    AttemptLog& log = it->second;
    if (fresh || log.attempt != attempt) {
      EndLocked(key, path, log);
      log = AttemptLog{attempt};
    }
    // The batch's lines for the head, and for the tail file in use (appended once per batch, or
    // when the batch fills that file, not once per line).
    std::string head, tail;
    auto append_tail = [&] {
      if (tail.empty()) return;
      std::ofstream(TailPath(path, log.tail), std::ios::app | std::ios::binary) << tail;
      tail.clear();
    };
    for (const v1::LogLine& line : lines) {
      std::string text = Format(line);
      if (!log.cut && log.head_bytes + text.size() <= head_limit) {
        log.head_bytes += text.size();
        head += text;
        continue;
      }
      log.cut = true;
      if (log.tail_bytes[log.tail] + text.size() > tail_file_limit) {
        // The file in use is full: the older one is emptied and written next.
        append_tail();
        log.tail = 1 - log.tail;
        log.left_out += log.tail_bytes[log.tail];
        log.tail_bytes[log.tail] = 0;
        std::ofstream(TailPath(path, log.tail), std::ios::trunc | std::ios::binary);
      }
      if (text.size() > tail_file_limit) {  // a line longer than a tail file keeps its end
        log.left_out += text.size() - tail_file_limit;
        text = text.substr(text.size() - tail_file_limit);
      }
      log.tail_bytes[log.tail] += text.size();
      tail += text;
    }
    append_tail();
    status = WriteLocked(key, path, head);
  }
  grew_.notify_all();
  return status;
}

void LogStore::EndAttempt(const std::string& build, const std::string& task, const std::string& attempt) {
  const std::string key = absl::StrCat(build, "/", task);
  {
    std::lock_guard lock(mutex_);
    auto it = attempts_.find(key);
    if (it == attempts_.end() || it->second.attempt != attempt) return;
    EndLocked(key, PathOf(build, task), it->second);
    attempts_.erase(it);
  }
  grew_.notify_all();
}

absl::StatusOr<std::string> LogStore::Read(const std::string& build, const std::string& task,
                                           uint64_t offset, size_t max_bytes) const {
  std::ifstream in(PathOf(build, task), std::ios::binary);
  if (!in) return std::string();
  in.seekg(static_cast<std::streamoff>(offset));
  std::string data(max_bytes, '\0');
  in.read(data.data(), static_cast<std::streamsize>(max_bytes));
  data.resize(static_cast<size_t>(in.gcount()));
  return data;
}

absl::StatusOr<uint64_t> LogStore::TailOffset(const std::string& build, const std::string& task,
                                              uint64_t lines) const {
  std::ifstream in(PathOf(build, task), std::ios::binary | std::ios::ate);
  if (!in || lines == 0) return uint64_t{0};
  const uint64_t size = static_cast<uint64_t>(in.tellg());
  // Newlines seen from the end; the log's last byte ends its last line and starts none.
  uint64_t newlines = 0, end = size;
  constexpr uint64_t kBlock = 64 * 1024;
  std::string block;
  while (end > 0) {
    const uint64_t start = end > kBlock ? end - kBlock : 0;
    block.resize(static_cast<size_t>(end - start));
    in.seekg(static_cast<std::streamoff>(start));
    if (!in.read(block.data(), static_cast<std::streamsize>(block.size()))) {
      return absl::InternalError(absl::StrCat("cannot read ", PathOf(build, task).string()));
    }
    for (uint64_t i = block.size(); i > 0; --i) {
      if (block[i - 1] != '\n' || start + i == size) continue;
      if (++newlines == lines) return start + i;  // the line after this newline
    }
    end = start;
  }
  return uint64_t{0};
}

void LogStore::WaitForGrowth(const std::string& build, const std::string& task, uint64_t offset,
                             std::chrono::milliseconds timeout) {
  const std::string key = absl::StrCat(build, "/", task);
  const std::filesystem::path path = PathOf(build, task);
  std::unique_lock lock(mutex_);
  const uint64_t generation = wake_generation_;
  grew_.wait_for(lock, timeout, [&] {
    return SizeLocked(key, path) > offset || wake_generation_ != generation;
  });
}

void LogStore::Wake() {
  {
    std::lock_guard lock(mutex_);
    ++wake_generation_;
  }
  grew_.notify_all();
}

}  // namespace cwb
