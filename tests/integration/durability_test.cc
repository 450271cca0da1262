// Durable before visible, when the disk is full: a real coordinator over gRPC on loopback, its data
// directory on a small tmpfs, driven by a hand-made agent session and a watching client. With the
// disk full, a finished task is shown to nobody (watchers, GetBuild, the agent) and the
// coordinator answers UNAVAILABLE with the reason and says so on /metrics; once the disk has room
// it writes the held-back change by itself, shows it, and a restart finds it.
#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/base/digest.h"
#include "coordinator/server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/coordinator_rpc_fixture.h"

namespace cwb {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using namespace cwb::testing;

class DurabilityTest : public CoordinatorRpcTest {
 protected:
  void SetUp() override {
    CoordinatorRpcTest::SetUp();
    disk_ = std::make_unique<SmallDisk>(dir_ / "store", "4m");
    if (!disk_->mounted()) GTEST_SKIP() << "cannot mount a small tmpfs here";
    StartServer();
  }
  // Fills the tmpfs to the last byte, after making SQLite's write-ahead log empty, so the next
  // write of the state must take space.
  void FillTheDisk() {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir_ / "store/state.sqlite3").c_str(), &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 10000);
    ASSERT_EQ(sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", nullptr, nullptr, nullptr), SQLITE_OK)
        << sqlite3_errmsg(db);
    sqlite3_close(db);
    std::ofstream filler(dir_ / "store/filler", std::ios::binary);
    const std::string block(64 << 10, 'f');
    while (filler.write(block.data(), block.size())) {
    }
    filler.close();
    std::ofstream bytes(dir_ / "store/filler-bytes", std::ios::binary);  // the last partial block
    while (bytes.put('f')) {
    }
  }
};

TEST_F(DurabilityTest, AFullDiskShowsNothingUntilItIsWrittenAndTheCoordinatorResumesByItself) {
  // An agent, a one-task build, its assignment, and its wheel uploaded.
  SubmitAndAssign("durable-agent", std::chrono::seconds(300));
  ASSERT_TRUE(Upload(Header(kOneTaskWheel, 5), "wheel", Sha256Hex("wheel")).ok());
  // A client watches: its snapshot, then whatever is shown.
  auto watch_context = Context(std::chrono::seconds(300));
  v1::WatchBuildRequest watch_request;
  watch_request.set_build_id(build_.build_id());
  auto watch = builds_->WatchBuild(watch_context.get(), watch_request);
  v1::BuildEvent event;
  ASSERT_TRUE(watch->Read(&event) && event.has_snapshot());
  std::mutex mutex;
  std::vector<v1::TaskState> seen;
  std::thread watcher([&] {
    v1::BuildEvent next;
    while (watch->Read(&next)) {
      std::lock_guard lock(mutex);
      seen.push_back(next.task().state());
    }
  });

  // The disk fills; the agent reports success.
  FillTheDisk();
  Succeed({kOneTaskWheel});

  // It cannot be written: clients get UNAVAILABLE with the reason, /metrics says so, and nothing
  // of the success was shown.
  v1::BuildInfo build;
  grpc::Status unavailable;
  for (int i = 0; i < 600; ++i) {
    unavailable = GetBuild(&build);
    if (unavailable.error_code() == grpc::StatusCode::UNAVAILABLE) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(unavailable.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(unavailable.error_message(), HasSubstr("cannot write its state"));
  EXPECT_THAT(unavailable.error_message(), HasSubstr("full"));
  EXPECT_THAT(server_->coordinator().metrics().Render(), HasSubstr("cwb_state_writable 0\n"));
  v1::ListBuildsResponse listed;
  EXPECT_EQ(builds_->ListBuilds(Context().get(), v1::ListBuildsRequest(), &listed).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  {
    std::lock_guard lock(mutex);
    EXPECT_EQ(std::count(seen.begin(), seen.end(), v1::TASK_STATE_SUCCEEDED), 0);
  }

  // Room again: the held-back change is written and shown, with nobody asking.
  fs::remove(dir_ / "store/filler");
  fs::remove(dir_ / "store/filler-bytes");
  grpc::Status back;
  for (int i = 0; i < 600; ++i) {
    back = GetBuild(&build);
    if (back.ok()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(back.ok()) << back.error_message();
  EXPECT_EQ(build.tasks(0).state(), v1::TASK_STATE_SUCCEEDED);
  EXPECT_THAT(server_->coordinator().metrics().Render(), HasSubstr("cwb_state_writable 1\n"));
  watch_context->TryCancel();
  watcher.join();
  {
    std::lock_guard lock(mutex);
    EXPECT_EQ(std::count(seen.begin(), seen.end(), v1::TASK_STATE_SUCCEEDED), 1);
  }

  // And it was on disk: a restarted coordinator has it.
  session_context_->TryCancel();
  session_->Finish();
  session_.reset();
  server_.reset();
  StartServer();
  ASSERT_TRUE(GetBuild(&build).ok());
  EXPECT_EQ(build.tasks(0).state(), v1::TASK_STATE_SUCCEEDED);
  EXPECT_EQ(build.tasks(0).artifacts_size(), 1);
}

}  // namespace
}  // namespace cwb
