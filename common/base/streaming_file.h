// A file that arrives as a stream of chunks (a wheel over gRPC): two threads of its own hash each
// chunk (SHA-256) and write it through a TempFileWriter while the caller receives the next, so
// the network, the hash and the disk work at the same time instead of taking turns. At most
// kMaxPending chunks are held, which bounds memory whatever the file's size. Nothing appears
// under the final name before Commit. Not thread-safe: one caller feeds it.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "common/base/atomic_file.h"
#include "common/base/digest.h"

namespace cwb {

class StreamingFile {
 public:
  static constexpr size_t kMaxPending = 8;

  static absl::StatusOr<std::unique_ptr<StreamingFile>> Create(const std::filesystem::path& path);
  ~StreamingFile();  // stops the threads; the file is removed unless committed

  // Queues a chunk (waiting while kMaxPending are held). Fails with the first write error.
  absl::Status Add(std::string chunk);
  // Waits until every chunk is hashed and written; the first write error, or OK.
  absl::Status Drain();
  // After Drain: what was written, and its digest.
  uint64_t size() const { return size_; }
  std::string Sha256Hex();
  // After Drain: fsync, rename into place, fsync the directory.
  absl::Status Commit() { return file_->Commit(); }

 private:
  using Chunk = std::shared_ptr<const std::string>;
  // One of the two consumers of the chunks: its queue and whether it holds one.
  struct Lane {
    std::deque<Chunk> queue;
    bool busy = false;
  };

  explicit StreamingFile(std::unique_ptr<TempFileWriter> file);
  // Takes chunks from `lane` and gives each to `consume` until stopped.
  void Run(Lane& lane, const std::function<absl::Status(const std::string&)>& consume);
  bool IdleLocked() const;

  std::unique_ptr<TempFileWriter> file_;
  Sha256 hasher_;
  uint64_t size_ = 0;  // written by the write thread; read after Drain

  std::mutex mutex_;
  std::condition_variable cv_;
  Lane hashing_, writing_;
  bool stopping_ = false;
  absl::Status error_;
  std::thread hash_thread_, write_thread_;
};

}  // namespace cwb
