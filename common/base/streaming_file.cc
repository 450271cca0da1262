#include "common/base/streaming_file.h"

namespace cwb {

absl::StatusOr<std::unique_ptr<StreamingFile>> StreamingFile::Create(const std::filesystem::path& path) {
  absl::StatusOr<std::unique_ptr<TempFileWriter>> file = TempFileWriter::Create(path);
  if (!file.ok()) return file.status();
  return std::unique_ptr<StreamingFile>(new StreamingFile(*std::move(file)));
}

StreamingFile::StreamingFile(std::unique_ptr<TempFileWriter> file) : file_(std::move(file)) {
  hash_thread_ = std::thread([this] {
    Run(hashing_, [this](const std::string& chunk) {
      hasher_.Update(chunk);
      return absl::OkStatus();
    });
  });
  write_thread_ = std::thread([this] {
    Run(writing_, [this](const std::string& chunk) {
      absl::Status written = file_->Write(chunk);
      if (written.ok()) size_ += chunk.size();
      return written;
    });
  });
}

StreamingFile::~StreamingFile() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  hash_thread_.join();
  write_thread_.join();
}

bool StreamingFile::IdleLocked() const {
  return hashing_.queue.empty() && !hashing_.busy && writing_.queue.empty() && !writing_.busy;
}

absl::Status StreamingFile::Add(std::string chunk) {
  auto shared = std::make_shared<const std::string>(std::move(chunk));
  std::unique_lock lock(mutex_);
  cv_.wait(lock, [&] {
    return std::max(hashing_.queue.size(), writing_.queue.size()) < kMaxPending || !error_.ok();
  });
  if (!error_.ok()) return error_;
  hashing_.queue.push_back(shared);
  writing_.queue.push_back(std::move(shared));
  cv_.notify_all();
  return absl::OkStatus();
}

absl::Status StreamingFile::Drain() {
  std::unique_lock lock(mutex_);
  cv_.wait(lock, [&] { return IdleLocked() || !error_.ok(); });
  return error_;
}

std::string StreamingFile::Sha256Hex() { return hasher_.FinishHex(); }

void StreamingFile::Run(Lane& lane, const std::function<absl::Status(const std::string&)>& consume) {
  std::unique_lock lock(mutex_);
  while (true) {
    cv_.wait(lock, [&] { return stopping_ || !lane.queue.empty(); });
    if (stopping_) return;
    Chunk chunk = std::move(lane.queue.front());
    lane.queue.pop_front();
    lane.busy = true;
    cv_.notify_all();  // room for one more
    lock.unlock();
    absl::Status done = consume(*chunk);
    chunk.reset();
    lock.lock();
    lane.busy = false;
    if (!done.ok() && error_.ok()) {
      error_ = done;
      hashing_.queue.clear();
      writing_.queue.clear();
    }
    cv_.notify_all();
  }
}

}  // namespace cwb
