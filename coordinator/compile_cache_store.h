// CompileCacheStore: the compile cache's entries (ccache's, as its HTTP remote storage writes them)
// on the coordinator's disk, one directory per trust domain: <root>/<domain>/<key>. An entry is
// written whole or not at all (its body, spooled to a file, is renamed into place); the total size
// stays within `max_bytes`: a write past it evicts the least recently used entries first, of any
// domain. Reads and writes name their domain, so one domain never sees another's entries. The
// order of use survives a restart (file times). Thread-safe.
#pragma once

#include <cstdint>
#include <filesystem>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "absl/status/statusor.h"

namespace cwb {

struct CompileCacheStoreStats {
  uint64_t bytes = 0;
  uint64_t entries = 0;
  uint64_t hits = 0;       // reads that found their entry
  uint64_t misses = 0;     // reads that did not
  uint64_t writes = 0;
  uint64_t evictions = 0;  // entries removed to stay within the bound
};

class CompileCacheStore {
 public:
  // Opens (creating) the store under `root`, indexing what a previous run left (and removing its
  // spooled bodies); then evicts down to `max_bytes` if the bound shrank.
  static absl::StatusOr<std::unique_ptr<CompileCacheStore>> Open(std::filesystem::path root, uint64_t max_bytes);

  // Whether `key` is a name this store keeps: what ccache's HTTP storage sends (base16/base32hex
  // digits, lower case), 8 to 128 characters. Anything else is refused before it touches the disk.
  static bool ValidKey(std::string_view key);

  // The entry's file, marked as just used; nothing when the domain has no such entry.
  std::optional<std::filesystem::path> Get(const std::string& domain, const std::string& key);
  // Moves `file` (in spool_dir(), on the store's filesystem) in as the domain's entry `key`,
  // replacing an older one, then evicts the least recently used entries past the bound. An entry
  // larger than the bound itself is refused (ResourceExhausted).
  absl::Status Put(const std::string& domain, const std::string& key, const std::filesystem::path& file);

  std::filesystem::path spool_dir() const { return root_ / ".spool"; }
  uint64_t max_bytes() const { return max_bytes_; }
  CompileCacheStoreStats stats() const;

 private:
  struct Entry {
    std::string id;  // "<domain>/<key>"
    uint64_t size = 0;
  };
  CompileCacheStore(std::filesystem::path root, uint64_t max_bytes) : root_(std::move(root)), max_bytes_(max_bytes) {}
  void EvictLocked();  // down to max_bytes_

  const std::filesystem::path root_;
  const uint64_t max_bytes_;
  mutable std::mutex mutex_;
  std::list<Entry> lru_;  // most recently used first
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;
  CompileCacheStoreStats stats_;
};

}  // namespace cwb
