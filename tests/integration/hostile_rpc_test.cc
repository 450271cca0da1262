// Hostile and malformed requests against a real coordinator over gRPC on loopback: corrupted
// and oversized uploads, path-smuggling wheel names, stale attempts, oversized messages, unknown
// ids, malformed configs, and a client vanishing mid-download. Each gets a clear error, nothing
// lands outside the store, and the coordinator keeps serving.
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/base/digest.h"
#include "coordinator/server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/coordinator_rpc_fixture.h"
#include "tests/support/submission.h"

namespace cwb {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using namespace cwb::testing;

constexpr const char* kWheel = kOneTaskWheel;

class HostileRpcTest : public CoordinatorRpcTest {
 protected:
  void SetUp() override {
    CoordinatorRpcTest::SetUp();
    if (std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()).find("DiskFull") !=
        std::string::npos) {
      disk_ = std::make_unique<SmallDisk>(dir_ / "store", "2m");
      if (!disk_->mounted()) GTEST_SKIP() << "cannot mount a small tmpfs here";
    }
    ServerOptions options;
    options.coordinator.max_upload_bytes = 8 << 20;
    StartServer(options);
  }

  // Every file under the store's uploads and builds directories.
  std::vector<std::string> StoredFiles() {
    std::vector<std::string> files;
    for (const char* sub : {"uploads", "builds"}) {
      std::error_code error;
      for (auto it = fs::recursive_directory_iterator(dir_ / "store" / sub, error);
           !error && it != fs::recursive_directory_iterator(); ++it) {
        if (it->is_regular_file()) files.push_back(it->path().string());
      }
    }
    return files;
  }
};

TEST_F(HostileRpcTest, FlippedByteIsRefusedAndNothingIsStored) {
  SubmitAndAssign();
  std::string data(3 << 20, 'w');
  const std::string digest = Sha256Hex(data);
  data[(3 << 20) / 2] ^= 0x01;
  grpc::Status status = Upload(Header(kWheel, data.size()), data, digest);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("sha256 mismatch"));
  EXPECT_TRUE(StoredFiles().empty());
  data[(3 << 20) / 2] ^= 0x01;
  EXPECT_TRUE(Upload(Header(kWheel, data.size()), data, digest).ok());
  EXPECT_TRUE(Healthy());
}

TEST_F(HostileRpcTest, HostileNamesAreRefusedWithNothingWrittenOutside) {
  SubmitAndAssign();
  const std::string data = "wheel";
  for (const std::string& name :
       {std::string("../../x.whl"), std::string("../../../escape-1.0-py3-none-any.whl"),
        (dir_ / "abs-1.0-py3-none-any.whl").string(), std::string("a/b-1.0-py3-none-any.whl"),
        std::string("nul\0x-1.0-py3-none-any.whl", 26), std::string("README.txt"),
        std::string("x-1.0-py3-none-any.whl\n")}) {
    grpc::Status status = Upload(Header(name, data.size()), data, Sha256Hex(data));
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << name;
    EXPECT_THAT(status.error_message(), HasSubstr("header.filename")) << name;
  }
  EXPECT_TRUE(StoredFiles().empty());
  for (const auto& entry : fs::directory_iterator(dir_)) {
    EXPECT_EQ(entry.path().filename(), "store") << "written outside the store: " << entry.path();
  }
}

TEST_F(HostileRpcTest, OversizedUploadsAreRefused) {
  SubmitAndAssign();
  const std::string data(1000, 'x');
  grpc::Status declared = Upload(Header(kWheel, 9 << 20), data, Sha256Hex(data));
  EXPECT_EQ(declared.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(declared.error_message(), HasSubstr("exceeds the limit of 8388608 bytes"));
  grpc::Status lied = Upload(Header(kWheel, 10), data, Sha256Hex(data));
  EXPECT_EQ(lied.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(lied.error_message(), HasSubstr("upload larger than 10 bytes"));
  EXPECT_TRUE(StoredFiles().empty());
}

TEST_F(HostileRpcTest, OnlyTheSessionHoldingTheAttemptUploadsAndAVerifiedNameNeverChanges) {
  SubmitAndAssign();
  // Another agent, with a session of its own, tries to upload for this agent's attempt.
  auto other_context = Context();
  auto other = agents_->Session(other_context.get());
  v1::AgentMessage hello;
  hello.mutable_register_()->set_agent_id("intruder");
  ASSERT_TRUE(other->Write(hello));
  v1::CoordinatorMessage ack;
  ASSERT_TRUE(other->Read(&ack) && ack.has_ack());
  for (const std::string& secret : {ack.ack().session(), std::string()}) {
    v1::UploadHeader header = Header(kWheel, 5);
    header.set_session(secret);
    grpc::Status refused = Upload(header, "wheel", Sha256Hex("wheel"));
    EXPECT_EQ(refused.error_code(), grpc::StatusCode::PERMISSION_DENIED) << refused.error_message();
    EXPECT_THAT(refused.error_message(), HasSubstr("does not come from the session of agent test-agent"));
  }
  EXPECT_TRUE(StoredFiles().empty());
  ASSERT_TRUE(Upload(Header(kWheel, 5), "wheel", Sha256Hex("wheel")).ok());
  grpc::Status changed = Upload(Header(kWheel, 5), "WHEEL", Sha256Hex("WHEEL"));
  EXPECT_EQ(changed.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(changed.error_message(), HasSubstr("a wheel cannot change within an attempt"));
  // The verified file is the first one still.
  ASSERT_EQ(StoredFiles().size(), 1u);
  std::stringstream stored;
  stored << std::ifstream(StoredFiles()[0]).rdbuf();
  EXPECT_EQ(stored.str(), "wheel");
  other_context->TryCancel();
  other->Finish();
}

TEST_F(HostileRpcTest, AChunkLargerThanTheProtocolsIsRefused) {
  SubmitAndAssign();
  auto context = Context();
  v1::ArtifactInfo response;
  auto writer = agents_->UploadArtifact(context.get(), &response);
  const std::string data(2 << 20, 'x');
  v1::UploadChunk chunk;
  *chunk.mutable_header() = Header(kWheel, data.size());
  writer->Write(chunk);
  chunk.Clear();
  chunk.set_data(data);  // one chunk of 2 MiB
  writer->Write(chunk);
  writer->WritesDone();
  grpc::Status status = writer->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "data: a chunk of 2097152 bytes; chunks are at most 1048576");
  EXPECT_TRUE(StoredFiles().empty());
}

TEST_F(HostileRpcTest, StaleAttemptsCannotUpload) {
  SubmitAndAssign();
  v1::UploadHeader header = Header(kWheel, 5);
  header.set_attempt_id("a000000000000");
  grpc::Status status = Upload(header, "wheel", Sha256Hex("wheel"));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr("attempt_id: a000000000000 is not the current attempt"));
}

TEST_F(HostileRpcTest, BadRequestsGetClearErrors) {
  v1::BuildInfo build;
  v1::GetBuildRequest get;
  grpc::Status empty = builds_->GetBuild(Context().get(), get, &build);
  EXPECT_EQ(empty.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(empty.error_message(), "build_id: required");
  get.set_build_id("bnope");
  grpc::Status unknown = builds_->GetBuild(Context().get(), get, &build);
  EXPECT_EQ(unknown.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(unknown.error_message(), "build_id: no build 'bnope'");

  // A plan the client never made: a shell command for a repository, a wrong id, a Dockerfile
  // that is not its hash's, and one past the message limit.
  v1::SubmitBuildRequest bad = Submission();
  bad.mutable_plan()->mutable_tasks(0)->mutable_source()->set_repo_url("https://x/;rm -rf /");
  grpc::Status malformed = builds_->SubmitBuild(Context().get(), bad, &build);
  EXPECT_EQ(malformed.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(malformed.error_message(), HasSubstr("plan.tasks[0].source.repo_url: "));
  v1::SubmitBuildRequest renamed = Submission();
  renamed.mutable_plan()->mutable_tasks(0)->set_id("0123456789abcdef");
  grpc::Status wrong_id = builds_->SubmitBuild(Context().get(), renamed, &build);
  EXPECT_EQ(wrong_id.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(wrong_id.error_message(), HasSubstr("plan.tasks[0].id: '0123456789abcdef' does not match the spec"));
  v1::SubmitBuildRequest swapped = Submission();
  swapped.mutable_dockerfiles(0)->set_text("FROM evil\n");
  grpc::Status forged = builds_->SubmitBuild(Context().get(), swapped, &build);
  EXPECT_EQ(forged.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(forged.error_message(), "dockerfiles[0].content_hash: is not the sha256 of its text");

  v1::SubmitBuildRequest huge = Submission();
  huge.set_config_name(std::string(65 << 20, '#'));
  grpc::Status oversized = builds_->SubmitBuild(Context().get(), huge, &build);
  EXPECT_EQ(oversized.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  v1::ListBuildsResponse listed;
  ASSERT_TRUE(builds_->ListBuilds(Context().get(), v1::ListBuildsRequest(), &listed).ok());
  EXPECT_EQ(listed.builds_size(), 0);  // nothing of them was stored

  SubmitAndAssign();
  v1::StreamLogRequest log;
  log.set_build_id(build_.build_id());
  log.set_task_id("nope");
  auto context = Context();
  auto reader = builds_->StreamLog(context.get(), log);
  v1::LogChunk chunk;
  while (reader->Read(&chunk)) {
  }
  grpc::Status no_task = reader->Finish();
  EXPECT_EQ(no_task.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(no_task.error_message(), HasSubstr("task_id: no task 'nope'"));
  EXPECT_TRUE(Healthy());
}

TEST_F(HostileRpcTest, AgentDyingMidUploadLeavesNothingVisible) {
  SubmitAndAssign();
  const std::string data(4 << 20, 'u');
  {
    auto context = Context();
    v1::ArtifactInfo response;
    auto writer = agents_->UploadArtifact(context.get(), &response);
    v1::UploadChunk chunk;
    *chunk.mutable_header() = Header(kWheel, data.size());
    ASSERT_TRUE(writer->Write(chunk));
    chunk.Clear();
    chunk.set_data(data.substr(0, 2 << 20));
    ASSERT_TRUE(writer->Write(chunk));
    context->TryCancel();  // the agent dies halfway
    writer->Finish();
  }
  // The handler notices the broken stream and removes its temporary file.
  std::vector<std::string> files = StoredFiles();
  for (int i = 0; i < 100 && !files.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    files = StoredFiles();
  }
  EXPECT_TRUE(files.empty()) << files.front();
  EXPECT_TRUE(Healthy());
}

TEST_F(HostileRpcTest, DiskFullFailsTheUploadCleanlyAndKeepsServing) {
  SubmitAndAssign();
  const std::string data(3 << 20, 'f');  // more than the 2 MiB store holds
  grpc::Status status = Upload(Header(kWheel, data.size()), data, Sha256Hex(data));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr("No space left on device"));
  EXPECT_TRUE(StoredFiles().empty());
  EXPECT_TRUE(Healthy());
  v1::BuildInfo another;
  EXPECT_TRUE(builds_->SubmitBuild(Context().get(), Submission(), &another).ok());
}

TEST_F(HostileRpcTest, ClientVanishingMidDownloadLeavesTheCoordinatorHealthy) {
  SubmitAndAssign();
  std::string data(6 << 20, 'z');
  for (size_t i = 0; i < data.size(); i += 4096) data[i] = static_cast<char>(i / 4096);
  ASSERT_TRUE(Upload(Header(kWheel, data.size()), data, Sha256Hex(data)).ok());
  Succeed({kWheel});
  v1::GetBuildRequest get;
  get.set_build_id(build_.build_id());
  v1::BuildInfo build;
  for (int i = 0; i < 100 && !build.finished(); ++i) {
    builds_->GetBuild(Context().get(), get, &build);
    if (!build.finished()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(build.succeeded(), 1u);

  v1::DownloadArtifactRequest request;
  request.set_build_id(build_.build_id());
  request.set_task_id(assignment_.spec().id());
  request.set_filename(kWheel);
  {
    auto context = Context();
    auto reader = builds_->DownloadArtifact(context.get(), request);
    v1::ArtifactChunk chunk;
    ASSERT_TRUE(reader->Read(&chunk));
    EXPECT_EQ(chunk.total_size(), data.size());
    context->TryCancel();  // the client goes away after one chunk
    reader->Finish();
  }
  EXPECT_TRUE(Healthy());
  auto context = Context();
  auto reader = builds_->DownloadArtifact(context.get(), request);
  v1::ArtifactChunk chunk;
  std::string received, digest;
  while (reader->Read(&chunk)) {
    EXPECT_LE(chunk.data().size(), 1u << 20);
    received += chunk.data();
    if (!chunk.sha256().empty()) digest = chunk.sha256();
  }
  EXPECT_TRUE(reader->Finish().ok());
  EXPECT_EQ(received, data);
  EXPECT_EQ(digest, Sha256Hex(data));
}

}  // namespace
}  // namespace cwb
