// A real coordinator in this process, served over gRPC on loopback, with the calls a test makes as
// a hand-made agent (one session, an assignment, uploads, a status) and as a client. The store is
// `dir_/store`; a test that needs a small disk mounts `disk_` there before StartServer.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "coordinator/server.h"
#include "cwb/v1/agent.grpc.pb.h"
#include "cwb/v1/client.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/integration/test_env.h"
#include "tests/support/submission.h"

namespace cwb::testing {

class CoordinatorRpcTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = TestDir(::testing::UnitTest::GetInstance()->current_test_info()->name()); }
  void TearDown() override {
    if (session_context_) session_context_->TryCancel();
    if (session_) session_->Finish();
    server_.reset();
    disk_.reset();
  }

  // Starts (or, after server_.reset(), restarts) the coordinator on dir_/store.
  void StartServer(ServerOptions options = {}) {
    options.listen = "127.0.0.1:0";
    options.coordinator.data_dir = dir_ / "store";
    auto server = CoordinatorServer::Start(options, SystemClock::Get());
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    channel_ = grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials());
    builds_ = v1::BuildService::NewStub(channel_);
    agents_ = v1::AgentService::NewStub(channel_);
  }

  std::unique_ptr<grpc::ClientContext> Context(std::chrono::seconds deadline = std::chrono::seconds(20)) {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() + deadline);
    return context;
  }

  // Registers an agent of one slot, submits the one-task build and takes its assignment.
  void SubmitAndAssign(const std::string& agent_id = "test-agent", std::chrono::seconds session = std::chrono::seconds(20)) {
    session_context_ = Context(session);
    session_ = agents_->Session(session_context_.get());
    v1::AgentMessage hello;
    hello.mutable_register_()->set_agent_id(agent_id);
    hello.mutable_register_()->mutable_capabilities()->set_slots(1);
    ASSERT_TRUE(session_->Write(hello));
    v1::CoordinatorMessage message;
    ASSERT_TRUE(session_->Read(&message) && message.has_ack());
    session_secret_ = message.ack().session();
    ASSERT_TRUE(builds_->SubmitBuild(Context().get(), Submission(), &build_).ok());
    ASSERT_TRUE(session_->Read(&message) && message.has_assignment());
    assignment_ = message.assignment();
  }

  // The one-task config as `cwb submit` sends it.
  static v1::SubmitBuildRequest Submission() { return SubmissionOf(kOneTaskConfig, "one-task.yaml", /*no_cache=*/true); }

  v1::UploadHeader Header(const std::string& filename, uint64_t size) {
    v1::UploadHeader header;
    header.set_build_id(assignment_.build_id());
    header.set_task_id(assignment_.spec().id());
    header.set_attempt_id(assignment_.attempt_id());
    header.set_filename(filename);
    header.set_size_bytes(size);
    header.set_session(session_secret_);
    return header;
  }

  // Uploads `data` in protocol-sized chunks, `sha256` last.
  grpc::Status Upload(const v1::UploadHeader& header, const std::string& data, const std::string& sha256) {
    auto context = Context();
    v1::ArtifactInfo response;
    auto writer = agents_->UploadArtifact(context.get(), &response);
    v1::UploadChunk chunk;
    *chunk.mutable_header() = header;
    writer->Write(chunk);
    for (size_t at = 0; at < data.size(); at += 1 << 20) {
      chunk.Clear();
      chunk.set_data(data.substr(at, 1 << 20));
      if (!writer->Write(chunk)) break;
    }
    chunk.Clear();
    chunk.set_sha256(sha256);
    writer->Write(chunk);
    writer->WritesDone();
    return writer->Finish();
  }

  // The agent reports the assignment succeeded with `files`.
  void Succeed(const std::vector<std::string>& files) {
    v1::AgentMessage message;
    v1::TaskStatusUpdate* status = message.mutable_status();
    status->set_build_id(assignment_.build_id());
    status->set_task_id(assignment_.spec().id());
    status->set_attempt_id(assignment_.attempt_id());
    status->set_state(v1::TASK_STATE_SUCCEEDED);
    status->set_commit(std::string(40, 'c'));
    for (const std::string& f : files) status->add_artifact_filenames(f);
    ASSERT_TRUE(session_->Write(message));
  }

  grpc::Status GetBuild(v1::BuildInfo* build) {
    v1::GetBuildRequest request;
    request.set_build_id(build_.build_id());
    return builds_->GetBuild(Context().get(), request, build);
  }

  bool Healthy() {
    v1::ListBuildsResponse response;
    return builds_->ListBuilds(Context().get(), v1::ListBuildsRequest(), &response).ok();
  }

  std::filesystem::path dir_;
  std::unique_ptr<SmallDisk> disk_;  // declared before the server: unmounted after it stops
  std::unique_ptr<CoordinatorServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::BuildService::Stub> builds_;
  std::unique_ptr<v1::AgentService::Stub> agents_;
  std::unique_ptr<grpc::ClientContext> session_context_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::AgentMessage, v1::CoordinatorMessage>> session_;
  v1::BuildInfo build_;            // the submitted build
  v1::Assignment assignment_;
  std::string session_secret_;  // the ack's
};

}  // namespace cwb::testing
