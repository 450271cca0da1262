// CompileCacheStore and CompileCacheCredentials on a real directory: entries per trust domain,
// the size bound kept by least-recently-used eviction, what a restart finds, refused names; and
// the credentials derived from the coordinator's secret.
#include "coordinator/compile_cache_store.h"

#include <unistd.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "coordinator/compile_cache_credentials.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cwb {
namespace {

namespace fs = std::filesystem;

constexpr char kAlice[] = "0123456789abcdef";
constexpr char kBob[] = "fedcba9876543210";

class CompileCacheStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           ("cache_store_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<CompileCacheStore> Open(uint64_t max_bytes) {
    absl::StatusOr<std::unique_ptr<CompileCacheStore>> store = CompileCacheStore::Open(dir_ / "store", max_bytes);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? *std::move(store) : nullptr;
  }
  // A body of `size` bytes spooled where the HTTP server would put it.
  fs::path Body(CompileCacheStore& store, size_t size, char fill = 'x') {
    const fs::path file = store.spool_dir() / ("body" + std::to_string(bodies_++));
    std::ofstream(file) << std::string(size, fill);
    return file;
  }
  static std::string Read(const fs::path& file) {
    std::ifstream in(file);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }

  fs::path dir_;
  int bodies_ = 0;
};

TEST_F(CompileCacheStoreTest, AnEntryIsReadOnlyWithinItsTrustDomain) {
  auto store = Open(1000);
  ASSERT_TRUE(store->Put(kAlice, "a1b2c3d4e5", Body(*store, 10, 'a')).ok());
  std::optional<fs::path> found = store->Get(kAlice, "a1b2c3d4e5");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(Read(*found), std::string(10, 'a'));
  EXPECT_FALSE(store->Get(kBob, "a1b2c3d4e5").has_value());
  EXPECT_FALSE(store->Get(kAlice, "0000000000").has_value());
  // The same name in another domain is another entry.
  ASSERT_TRUE(store->Put(kBob, "a1b2c3d4e5", Body(*store, 5, 'b')).ok());
  EXPECT_EQ(Read(*store->Get(kAlice, "a1b2c3d4e5")), std::string(10, 'a'));
  EXPECT_EQ(Read(*store->Get(kBob, "a1b2c3d4e5")), std::string(5, 'b'));
  const CompileCacheStoreStats stats = store->stats();
  EXPECT_EQ(stats.entries, 2u);
  EXPECT_EQ(stats.bytes, 15u);
  EXPECT_EQ(stats.hits, 3u);
  EXPECT_EQ(stats.misses, 2u);
  EXPECT_TRUE(fs::is_empty(store->spool_dir()));  // bodies moved in, nothing left behind
}

TEST_F(CompileCacheStoreTest, PastTheBoundTheLeastRecentlyUsedEntriesGoFirst) {
  auto store = Open(100);
  ASSERT_TRUE(store->Put(kAlice, "aaaaaaaa", Body(*store, 40)).ok());
  ASSERT_TRUE(store->Put(kBob, "bbbbbbbb", Body(*store, 40)).ok());
  ASSERT_TRUE(store->Get(kAlice, "aaaaaaaa").has_value());  // now the most recently used
  ASSERT_TRUE(store->Put(kAlice, "cccccccc", Body(*store, 40)).ok());
  EXPECT_TRUE(store->Get(kAlice, "aaaaaaaa").has_value());
  EXPECT_FALSE(store->Get(kBob, "bbbbbbbb").has_value());
  EXPECT_TRUE(store->Get(kAlice, "cccccccc").has_value());
  EXPECT_FALSE(fs::exists(dir_ / "store" / kBob / "bbbbbbbb"));
  EXPECT_EQ(store->stats().bytes, 80u);
  EXPECT_EQ(store->stats().evictions, 1u);
  // Replacing an entry counts its size once.
  ASSERT_TRUE(store->Put(kAlice, "cccccccc", Body(*store, 20)).ok());
  EXPECT_EQ(store->stats().bytes, 60u);
  EXPECT_EQ(store->stats().entries, 2u);
}

TEST_F(CompileCacheStoreTest, ARestartFindsTheEntriesAndEvictsByTheirLastUse) {
  {
    auto store = Open(1000);
    ASSERT_TRUE(store->Put(kAlice, "01d01d01d0", Body(*store, 30)).ok());
    ASSERT_TRUE(store->Put(kAlice, "0e00e00e00", Body(*store, 30)).ok());
    std::ofstream(store->spool_dir() / "half-received") << "partial body";
  }
  // The order of use is in the files' times (Get renews them): set them apart explicitly.
  const auto now = fs::file_time_type::clock::now();
  fs::last_write_time(dir_ / "store" / kAlice / "01d01d01d0", now - std::chrono::hours(2));
  fs::last_write_time(dir_ / "store" / kAlice / "0e00e00e00", now - std::chrono::hours(1));
  std::ofstream(dir_ / "store" / kAlice / "NOT-A-KEY") << "debris";
  auto store = Open(40);  // a smaller bound than before: one entry fits
  EXPECT_TRUE(store->Get(kAlice, "0e00e00e00").has_value());
  EXPECT_FALSE(store->Get(kAlice, "01d01d01d0").has_value());
  EXPECT_EQ(store->stats().bytes, 30u);
  EXPECT_FALSE(fs::exists(dir_ / "store" / kAlice / "NOT-A-KEY"));
  EXPECT_TRUE(fs::is_empty(store->spool_dir()));
}

TEST_F(CompileCacheStoreTest, NamesThatAreNotCcacheKeysAndEntriesPastTheBoundAreRefused) {
  auto store = Open(100);
  for (const char* key : {"../../etc", "short", "ABCDEFGHIJ", "abc/defghij", "a b c d e f g"}) {
    EXPECT_FALSE(CompileCacheStore::ValidKey(key)) << key;
    EXPECT_FALSE(store->Put(kAlice, key, Body(*store, 1)).ok()) << key;
    EXPECT_FALSE(store->Get(kAlice, key).has_value()) << key;
  }
  EXPECT_FALSE(store->Put("../x", "aaaaaaaa", Body(*store, 1)).ok());
  absl::Status too_big = store->Put(kAlice, "aaaaaaaa", Body(*store, 101));
  EXPECT_TRUE(absl::IsResourceExhausted(too_big)) << too_big;
  EXPECT_EQ(store->stats().entries, 0u);
}

TEST_F(CompileCacheStoreTest, UnderConcurrentWritesAndReadsTheStoreStaysWithinItsBound) {
  auto store = Open(10'000);
  // Bodies are spooled first (as the HTTP server does), then eight writers and readers at once.
  constexpr int kThreads = 8, kPerThread = 50;
  std::vector<std::vector<fs::path>> bodies(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; ++i) bodies[t].push_back(Body(*store, 100 + 10 * (i % 7)));
  }
  std::atomic<bool> over_bound{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string key = "k" + std::to_string(t) + "a" + std::to_string(i) + "0000000";
        EXPECT_TRUE(store->Put(t % 2 ? kAlice : kBob, key, bodies[t][i]).ok());
        store->Get(t % 2 ? kAlice : kBob, "k" + std::to_string(t) + "a" + std::to_string(i / 2) + "0000000");
        if (store->stats().bytes > 10'000) over_bound = true;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_FALSE(over_bound);
  // What is on disk is what the store counts, within the bound.
  uint64_t on_disk = 0, files = 0;
  for (const auto& entry : fs::recursive_directory_iterator(dir_ / "store")) {
    if (entry.is_regular_file() && entry.path().parent_path().filename() != ".spool") {
      on_disk += entry.file_size();
      ++files;
    }
  }
  const CompileCacheStoreStats stats = store->stats();
  EXPECT_EQ(on_disk, stats.bytes);
  EXPECT_EQ(files, stats.entries);
  EXPECT_LE(on_disk, 10'000u);
  EXPECT_EQ(stats.writes, static_cast<uint64_t>(kThreads * kPerThread));
  EXPECT_GT(stats.evictions, 0u);
}

TEST(CompileCacheCredentialsTest, APasswordIsTheAttemptsAndADomainKeyTheDomains) {
  const CompileCacheCredentials credentials(std::string(64, 'k'));
  const std::string password = credentials.AttemptPassword("attempt-1");
  EXPECT_EQ(password.size(), 64u);
  EXPECT_TRUE(credentials.IsAttemptPassword("attempt-1", password));
  EXPECT_FALSE(credentials.IsAttemptPassword("attempt-2", password));
  EXPECT_FALSE(credentials.IsAttemptPassword("attempt-1", password.substr(1)));
  EXPECT_NE(credentials.DomainKey(kAlice), credentials.DomainKey(kBob));
  EXPECT_NE(CompileCacheCredentials(std::string(64, 'j')).AttemptPassword("attempt-1"), password);
}

TEST(CompileCacheCredentialsTest, TheSecretIsMadeOnceReadableByItsOwnerOnly) {
  const fs::path file = fs::path(::testing::TempDir()) / ("cache_secret_" + std::to_string(::getpid()));
  fs::remove(file);
  absl::StatusOr<CompileCacheCredentials> first = CompileCacheCredentials::LoadOrCreate(file);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(fs::status(file).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
  absl::StatusOr<CompileCacheCredentials> again = CompileCacheCredentials::LoadOrCreate(file);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(first->AttemptPassword("a"), again->AttemptPassword("a"));
  std::ofstream(file) << "short\n";
  EXPECT_FALSE(CompileCacheCredentials::LoadOrCreate(file).ok());
  fs::remove(file);
}

}  // namespace
}  // namespace cwb
