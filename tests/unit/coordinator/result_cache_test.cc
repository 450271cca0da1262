// The result cache with a real SQLite store and wheel store in a temporary directory: sources
// resolved once each, a remembered result reused with its wheels, nothing left behind when the
// wheels are gone.
#include "coordinator/result_cache.h"

#include <fstream>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/temp_dir.h"
#include "tests/fakes/fake_source_resolver.h"
#include "tests/unit/coordinator/coordinator_parts.h"

namespace cwb {
namespace {

namespace fs = std::filesystem;
using testing::MakeTask;

constexpr char kWheel[] = "wheelhouse/py311/cudacpu/linux_x86_64/demo-1.0-cp311-cp311-linux_x86_64.whl";

class ResultCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::FreshTestDir("result_cache");
    auto store = StateStore::Open(dir_ / "state.sqlite3");
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    artifacts_ = std::make_unique<ArtifactStore>(dir_, 1 << 20);
    cache_ = std::make_unique<ResultCache>(*store_, *artifacts_, resolver_, hits_);
  }
  // Build `build` succeeded task `task_id` at `commit` with one stored wheel.
  void Remember(const std::string& build, const std::string& task_id, const std::string& commit) {
    v1::TaskInfo done = MakeTask(build, task_id, v1::TASK_STATE_SUCCEEDED).info;
    done.set_commit(commit);
    done.add_artifacts()->set_wheelhouse_path(kWheel);
    fs::create_directories((artifacts_->BuildDir(build) / kWheel).parent_path());
    std::ofstream(artifacts_->BuildDir(build) / kWheel) << "wheel bytes";
    StoreBatch batch;
    ResultCache::Remember(done, batch);
    ASSERT_TRUE(store_->Apply(batch).ok());
  }

  fs::path dir_;
  testing::FakeSourceResolver::Commits commits_;
  testing::FakeSourceResolver resolver_{&commits_};
  Counter hits_;
  std::unique_ptr<StateStore> store_;
  std::unique_ptr<ArtifactStore> artifacts_;
  std::unique_ptr<ResultCache> cache_;
};

TEST_F(ResultCacheTest, EachSourceIsResolvedOnceAndUnreachableOnesAreLeftOut) {
  commits_[{"https://example.com/a.git", "main"}] = "aaaa";
  auto commits = cache_->Resolve({{"https://example.com/a.git", "main"}, {"https://example.com/gone.git", ""}});
  EXPECT_EQ(commits.size(), 1u);
  EXPECT_EQ((commits[{"https://example.com/a.git", "main"}]), "aaaa");
  EXPECT_EQ(resolver_.calls(), 2);
}

TEST_F(ResultCacheTest, ARememberedResultIsReusedWithItsWheels) {
  Remember("b1", "t1", "c0ffee");
  TaskRecord task = MakeTask("b2", "t1");
  std::set<fs::path> synced;
  std::vector<v1::LogLine> log;
  ASSERT_TRUE(cache_->Reuse(task, "c0ffee", 5000, &synced, &log));
  EXPECT_EQ(task.info.state(), v1::TASK_STATE_SUCCEEDED);
  EXPECT_EQ(task.info.commit(), "c0ffee");
  EXPECT_EQ(task.info.finished_at_ms(), 5000);
  EXPECT_EQ(task.info.message(), "reused the wheels of build b1 (same spec, commit c0ffee)");
  ASSERT_EQ(log.size(), 1u);
  EXPECT_THAT(log[0].text(), ::testing::HasSubstr("nothing was built"));
  EXPECT_TRUE(fs::exists(artifacts_->BuildDir("b2") / kWheel));
  EXPECT_FALSE(synced.empty());
  EXPECT_EQ(hits_.value(), 1);
}

TEST_F(ResultCacheTest, AnotherCommitOrAMissingWheelIsBuiltAfterAll) {
  Remember("b1", "t1", "c0ffee");
  TaskRecord task = MakeTask("b2", "t1");
  std::set<fs::path> synced;
  std::vector<v1::LogLine> log;
  EXPECT_FALSE(cache_->Reuse(task, "beef", 5000, &synced, &log));
  fs::remove(artifacts_->BuildDir("b1") / kWheel);
  EXPECT_FALSE(cache_->Reuse(task, "c0ffee", 5000, &synced, &log));
  EXPECT_EQ(task.info.state(), v1::TASK_STATE_QUEUED);
  EXPECT_FALSE(fs::exists(artifacts_->BuildDir("b2") / kWheel));
  EXPECT_TRUE(log.empty());
  EXPECT_EQ(hits_.value(), 0);
}

TEST_F(ResultCacheTest, ATaskWithoutACommitIsNotRemembered) {
  StoreBatch batch;
  ResultCache::Remember(MakeTask("b1", "t1", v1::TASK_STATE_SUCCEEDED).info, batch);
  EXPECT_TRUE(batch.results.empty());
}

}  // namespace
}  // namespace cwb
