// CoordinatorTest: a real Coordinator (SQLite in a temporary directory) on a fake clock, with a
// fake source resolver and recording agent channels; what agents and clients do, as calls.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/base/digest.h"
#include "coordinator/coordinator.h"
#include "gtest/gtest.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/fake_source_resolver.h"
#include "tests/fakes/recording_agent_channel.h"
#include "tests/support/submission.h"

namespace cwb::testing {

namespace fs = std::filesystem;

// Who submits, cancels and retries in these tests (a submitter changing its own builds).
const Principal kSubmitter{"ci", Role::kSubmit};

constexpr char kConfig[] = R"(build_matrix:
  python_version: [3.11]
  cuda_version: [cpu]
  pytorch_version: [2.4.0, 2.5.0]
projects:
  - name: demo
    repo_url: https://example.com/demo.git
pytorch_base_images:
  "2.4.0": {cpu: base:1}
  "2.5.0": {cpu: base:1}
)";

class CoordinatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.data_dir = fs::path(::testing::TempDir()) /
                        absl::StrCat("coordinator_", ::getpid(), "_",
                                     ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(options_.data_dir);
    options_.lease = std::chrono::seconds(10);
    options_.retry_limit = 2;
    Restart();
  }

  void Restart() {
    coordinator_.reset();
    auto created = Coordinator::Create(options_, clock_,
                                       std::make_unique<FakeSourceResolver>(&commits_));
    ASSERT_TRUE(created.ok()) << created.status();
    coordinator_ = *std::move(created);
  }

  std::string Submit(const std::string& config = kConfig, bool no_cache = false) {
    absl::StatusOr<v1::BuildInfo> build = coordinator_->Submit(SubmissionOf(config, "c.yaml", no_cache), kSubmitter);
    EXPECT_TRUE(build.ok()) << build.status();
    return build->build_id();
  }

  std::shared_ptr<RecordingChannel> Connect(const std::string& id, int slots = 1,
                                            std::vector<v1::RunningAttempt> running = {},
                                            v1::RegisterAck* ack = nullptr) {
    auto channel = std::make_shared<RecordingChannel>();
    v1::Register reg;
    reg.set_agent_id(id);
    reg.mutable_capabilities()->set_slots(slots);
    for (const auto& r : running) *reg.add_running() = r;
    absl::StatusOr<v1::RegisterAck> result = coordinator_->Register(reg, channel);
    EXPECT_TRUE(result.ok()) << result.status();
    if (ack != nullptr) *ack = *result;
    if (result.ok()) sessions_[id] = result->session();
    return channel;
  }

  v1::TaskInfo Task(const std::string& build, int index) {
    return coordinator_->GetBuild(build)->tasks(index);
  }

  void Report(const std::string& agent, const v1::Assignment& a, v1::TaskState state,
              std::vector<std::string> files = {}) {
    v1::TaskStatusUpdate update;
    update.set_build_id(a.build_id());
    update.set_task_id(a.spec().id());
    update.set_attempt_id(a.attempt_id());
    update.set_state(state);
    update.set_message(state == v1::TASK_STATE_FAILED ? "exit 2" : "ok");
    for (const std::string& f : files) update.add_artifact_filenames(f);
    coordinator_->OnStatus(agent, update);
  }

  // Uploads a wheel for an attempt the way the service does.
  absl::Status Upload(const v1::Assignment& a, const std::string& filename, const std::string& bytes) {
    v1::UploadHeader header;
    header.set_build_id(a.build_id());
    header.set_task_id(a.spec().id());
    header.set_attempt_id(a.attempt_id());
    header.set_filename(filename);
    header.set_size_bytes(bytes.size());
    // As the agent holding the attempt sends it: with its session's secret.
    absl::StatusOr<v1::TaskInfo> task = coordinator_->GetTask(a.build_id(), a.spec().id());
    if (task.ok()) header.set_session(sessions_[task->agent_id()]);
    if (absl::Status s = coordinator_->CheckUpload(header); !s.ok()) return s;
    auto upload = coordinator_->artifacts().BeginUpload(a.attempt_id(), filename, bytes.size());
    if (!upload.ok()) return upload.status();
    if (absl::Status s = (*upload)->Write(bytes); !s.ok()) return s;
    if (absl::Status s = coordinator_->CheckUploadDigest(header, Sha256Hex(bytes)); !s.ok()) return s;
    auto path = (*upload)->Commit(Sha256Hex(bytes));
    if (!path.ok()) return path.status();
    v1::ArtifactInfo info;
    info.set_filename(filename);
    info.set_size_bytes(bytes.size());
    info.set_sha256(Sha256Hex(bytes));
    info.set_wheelhouse_path("wheelhouse/py311/cudacpu/linux_x86_64/" + filename);
    return coordinator_->RecordUpload(header, info, *path);
  }

  // Runs an assignment to success: RUNNING, `took` on the clock, the wheel uploaded, SUCCEEDED
  // with `commit`.
  void Succeed(const std::string& agent, const v1::Assignment& a, std::chrono::milliseconds took,
               const std::string& commit = "") {
    Report(agent, a, v1::TASK_STATE_RUNNING);
    clock_.Advance(took);
    const std::string wheel = absl::StrCat("demo-1.0+", a.spec().id(), "-cp311-cp311-linux_x86_64.whl");
    ASSERT_TRUE(Upload(a, wheel, "wheel of " + a.spec().id()).ok());
    v1::TaskStatusUpdate update;
    update.set_build_id(a.build_id());
    update.set_task_id(a.spec().id());
    update.set_attempt_id(a.attempt_id());
    update.set_state(v1::TASK_STATE_SUCCEEDED);
    update.set_commit(commit);
    update.add_artifact_filenames(wheel);
    coordinator_->OnStatus(agent, update);
  }

  CoordinatorOptions options_;
  FakeClock clock_;
  std::map<std::string, std::string> sessions_;  // the latest session secret of each agent
  FakeSourceResolver::Commits commits_;
  std::unique_ptr<Coordinator> coordinator_;
};

}  // namespace cwb::testing
