#include "coordinator/compile_cache_store.h"

#include <algorithm>
#include <system_error>
#include <vector>

#include "absl/strings/str_cat.h"

namespace cwb {
namespace fs = std::filesystem;

namespace {

bool ValidDomain(std::string_view domain) {
  return !domain.empty() && domain.size() <= 64 && domain.find_first_not_of("0123456789abcdef") == std::string::npos;
}

}  // namespace

bool CompileCacheStore::ValidKey(std::string_view key) {
  return key.size() >= 8 && key.size() <= 128 &&
         key.find_first_not_of("0123456789abcdefghijklmnopqrstuv") == std::string::npos;
}

absl::StatusOr<std::unique_ptr<CompileCacheStore>> CompileCacheStore::Open(fs::path root, uint64_t max_bytes) {
  std::unique_ptr<CompileCacheStore> store(new CompileCacheStore(std::move(root), max_bytes));
  std::error_code error;
  fs::remove_all(store->spool_dir(), error);  // bodies of requests a previous run never finished
  fs::create_directories(store->spool_dir(), error);
  if (error) {
    return absl::UnavailableError(absl::StrCat("compile cache store ", store->root_.string(), ": ", error.message()));
  }
  // What a previous run left, most recently used first (by file time, which Get renews).
  struct Found {
    std::string id;
    uint64_t size;
    fs::file_time_type time;
  };
  std::vector<Found> found;
  for (const fs::directory_entry& domain : fs::directory_iterator(store->root_, error)) {
    const std::string domain_name = domain.path().filename().string();
    if (!domain.is_directory() || !ValidDomain(domain_name)) continue;
    std::error_code inner;
    for (const fs::directory_entry& entry : fs::directory_iterator(domain.path(), inner)) {
      const std::string key = entry.path().filename().string();
      std::error_code stat_error;
      if (!entry.is_regular_file(stat_error) || !ValidKey(key)) {
        fs::remove(entry.path(), stat_error);  // a rename's leftover, or nothing of ours
        continue;
      }
      found.push_back({absl::StrCat(domain_name, "/", key), entry.file_size(stat_error), entry.last_write_time(stat_error)});
    }
  }
  std::sort(found.begin(), found.end(), [](const Found& a, const Found& b) { return a.time > b.time; });
  std::lock_guard lock(store->mutex_);
  for (Found& entry : found) {
    store->stats_.bytes += entry.size;
    store->lru_.push_back({std::move(entry.id), entry.size});
    store->index_[store->lru_.back().id] = std::prev(store->lru_.end());
  }
  store->stats_.entries = store->lru_.size();
  store->EvictLocked();
  return store;
}

std::optional<fs::path> CompileCacheStore::Get(const std::string& domain, const std::string& key) {
  if (!ValidDomain(domain) || !ValidKey(key)) return std::nullopt;
  const std::string id = absl::StrCat(domain, "/", key);
  std::lock_guard lock(mutex_);
  auto it = index_.find(id);
  if (it == index_.end()) {
    ++stats_.misses;
    return std::nullopt;
  }
  lru_.splice(lru_.begin(), lru_, it->second);
  ++stats_.hits;
  const fs::path path = root_ / id;
  std::error_code ignored;
  fs::last_write_time(path, fs::file_time_type::clock::now(), ignored);  // the order of use, for a restart
  return path;
}

absl::Status CompileCacheStore::Put(const std::string& domain, const std::string& key, const fs::path& file) {
  if (!ValidDomain(domain) || !ValidKey(key)) return absl::InvalidArgumentError(absl::StrCat("not a cache key: ", key));
  std::error_code error;
  const uint64_t size = fs::file_size(file, error);
  if (error) return absl::UnavailableError(absl::StrCat("the entry's body: ", error.message()));
  if (size > max_bytes_) {
    return absl::ResourceExhaustedError(
        absl::StrCat("an entry of ", size, " bytes is larger than the store (", max_bytes_, " bytes)"));
  }
  const std::string id = absl::StrCat(domain, "/", key);
  fs::create_directories(root_ / domain, error);
  std::lock_guard lock(mutex_);
  // Under the lock: a concurrent Put of the same key leaves one whole entry, counted once.
  fs::rename(file, root_ / id, error);
  if (error) return absl::UnavailableError(absl::StrCat("cannot store the entry: ", error.message()));
  if (auto it = index_.find(id); it != index_.end()) {
    stats_.bytes -= it->second->size;
    lru_.erase(it->second);
    index_.erase(it);
  }
  lru_.push_front({id, size});
  index_[id] = lru_.begin();
  stats_.bytes += size;
  ++stats_.writes;
  EvictLocked();
  stats_.entries = lru_.size();
  return absl::OkStatus();
}

void CompileCacheStore::EvictLocked() {
  while (stats_.bytes > max_bytes_ && !lru_.empty()) {
    const Entry& oldest = lru_.back();
    std::error_code ignored;
    fs::remove(root_ / oldest.id, ignored);
    stats_.bytes -= oldest.size;
    index_.erase(oldest.id);
    lru_.pop_back();
    ++stats_.evictions;
  }
  stats_.entries = lru_.size();
}

CompileCacheStoreStats CompileCacheStore::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

}  // namespace cwb
