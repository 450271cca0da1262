#include "coordinator/services.h"

#include <google/protobuf/arena.h>
#include <grpcpp/support/message_allocator.h>

#include <atomic>
#include <deque>
#include <fstream>
#include <iostream>
#include <mutex>
#include <optional>

#include "absl/strings/str_cat.h"
#include "common/rpc/authorizing_credentials.h"
#include "common/config/axes.h"
#include "common/rpc/grpc_status.h"
#include "common/rpc/task_proto.h"
#include "common/rpc/task_state.h"
#include "common/config/wheelhouse.h"
#include "common/rpc/wire.h"
#include "common/web/server_log.h"

namespace cwb {
namespace {

constexpr auto kPoll = std::chrono::milliseconds(500);

grpc::Status Missing(const char* field) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, absl::StrCat(field, ": required"));
}

// One agent's Session stream on gRPC's callback API: no thread of its own. Each message read is
// handed to the coordinator at once; what the coordinator sends (Send, from any thread) is
// queued and written one message at a time. The coordinator keeps a shared_ptr to it as the
// agent's AgentChannel; the reactor itself lives until OnDone.
class SessionReactor final : public grpc::ServerBidiReactor<v1::AgentMessage, v1::CoordinatorMessage>,
                             public AgentChannel,
                             public std::enable_shared_from_this<SessionReactor> {
 public:
  explicit SessionReactor(Coordinator& coordinator) : coordinator_(coordinator) { StartRead(&incoming_); }
  // The reactor owns itself until OnDone, which drops this reference.
  void Keep(std::shared_ptr<SessionReactor> self) { self_ = std::move(self); }

  // Never calls into gRPC under mutex_: a reaction may run inside StartWrite or Finish.
  void Send(v1::CoordinatorMessage message) override {
    {
      std::lock_guard lock(mutex_);
      if (finishing_) return;
      if (writing_) {
        queue_.push_back(std::move(message));
        return;
      }
      writing_ = true;
      outgoing_ = std::move(message);
    }
    StartWrite(&outgoing_);
  }

  // Ends the session (the agent will reconnect), once the write in flight is done.
  void Close() override { FinishWhenIdle(grpc::Status::OK); }

  void OnReadDone(bool ok) override {
    if (!ok) {
      Ended();
      FinishWhenIdle(grpc::Status::OK);
      return;
    }
    if (agent_id_.empty()) {
      if (!incoming_.has_register_()) {
        FinishWhenIdle(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                    "register: the first message must register"));
        return;
      }
      absl::StatusOr<v1::RegisterAck> ack = coordinator_.Register(incoming_.register_(), shared_from_this());
      if (!ack.ok()) {
        FinishWhenIdle(ToGrpcStatus(ack.status()));
        return;
      }
      agent_id_ = incoming_.register_().agent_id();
    } else {
      switch (incoming_.message_case()) {
        case v1::AgentMessage::kHeartbeat:
          coordinator_.Heartbeat(agent_id_, this);
          break;
        case v1::AgentMessage::kStatus:
          coordinator_.OnStatus(agent_id_, incoming_.status());
          break;
        case v1::AgentMessage::kLogs:
          coordinator_.OnLogs(agent_id_, incoming_.logs());
          break;
        default:
          break;
      }
    }
    StartRead(&incoming_);
  }

  void OnWriteDone(bool ok) override {
    bool finish = false, next = false;
    {
      std::lock_guard lock(mutex_);
      if (!ok) {
        queue_.clear();
        close_status_ = grpc::Status::OK;
      }
      if (!close_status_.has_value() && !queue_.empty()) {
        outgoing_ = std::move(queue_.front());
        queue_.pop_front();
        next = true;
      } else {
        writing_ = false;
        finish = close_status_.has_value() && TakeFinishLocked();
      }
    }
    if (next) {
      StartWrite(&outgoing_);
    } else if (finish) {
      Finish(*close_status_);
    }
  }

  void OnDone() override {
    Ended();
    self_.reset();  // may delete this
  }

 private:
  // Finishes with `status` now, or when the write in flight is done. Finish is called once, not
  // under mutex_, and last: OnDone may follow on another thread at once.
  void FinishWhenIdle(grpc::Status status) {
    bool finish = false;
    {
      std::lock_guard lock(mutex_);
      if (!close_status_.has_value()) close_status_ = std::move(status);
      finish = !writing_ && TakeFinishLocked();
    }
    if (finish) Finish(*close_status_);
  }
  // True once: the caller must then call Finish. Messages sent later are dropped.
  bool TakeFinishLocked() {
    if (finishing_) return false;
    finishing_ = true;
    queue_.clear();
    return true;
  }
  // Tells the coordinator the agent is gone (once).
  void Ended() {
    if (agent_id_.empty() || ended_.exchange(true)) return;
    coordinator_.Disconnected(agent_id_, this);
  }

  Coordinator& coordinator_;
  std::shared_ptr<SessionReactor> self_;
  v1::AgentMessage incoming_;  // only the read side touches it
  std::string agent_id_;       // set by the first read, then only read
  std::atomic<bool> ended_{false};

  std::mutex mutex_;
  v1::CoordinatorMessage outgoing_;  // the write in flight
  std::deque<v1::CoordinatorMessage> queue_;
  bool writing_ = false;
  std::optional<grpc::Status> close_status_;  // set once the session is to end
  bool finishing_ = false;
};

}  // namespace

// ---- BuildService ----

grpc::Status BuildServiceImpl::SubmitBuild(grpc::ServerContext* context, const v1::SubmitBuildRequest* request,
                                           v1::BuildInfo* response) {
  absl::StatusOr<v1::BuildInfo> build = coordinator_.Submit(*request, CallerOf(*context));
  if (!build.ok()) return ToGrpcStatus(build.status());
  *response = *std::move(build);
  return grpc::Status::OK;
}

grpc::Status BuildServiceImpl::ListBuilds(grpc::ServerContext* context, const v1::ListBuildsRequest*,
                                          v1::ListBuildsResponse* response) {
  absl::StatusOr<std::vector<v1::BuildInfo>> builds = coordinator_.ListBuilds();
  if (!builds.ok()) return ToGrpcStatus(builds.status());
  for (v1::BuildInfo& build : *builds) *response->add_builds() = std::move(build);
  return grpc::Status::OK;
}

// Each GetBuild's request and response live on an arena of their own, freed in one piece.
class BuildServiceImpl::ArenaAllocator final
    : public grpc::MessageAllocator<v1::GetBuildRequest, v1::BuildInfo> {
 public:
  grpc::MessageHolder<v1::GetBuildRequest, v1::BuildInfo>* AllocateMessages() override { return new Holder(); }

 private:
  class Holder final : public grpc::MessageHolder<v1::GetBuildRequest, v1::BuildInfo> {
   public:
    Holder() {
      set_request(google::protobuf::Arena::CreateMessage<v1::GetBuildRequest>(&arena_));
      set_response(google::protobuf::Arena::CreateMessage<v1::BuildInfo>(&arena_));
    }
    void Release() override { delete this; }

   private:
    google::protobuf::Arena arena_;
  };
};

BuildServiceImpl::BuildServiceImpl(Coordinator& coordinator)
    : coordinator_(coordinator), get_build_allocator_(std::make_unique<ArenaAllocator>()) {
  SetMessageAllocatorFor_GetBuild(get_build_allocator_.get());
}

BuildServiceImpl::~BuildServiceImpl() = default;

grpc::ServerUnaryReactor* BuildServiceImpl::GetBuild(grpc::CallbackServerContext* context,
                                                     const v1::GetBuildRequest* request, v1::BuildInfo* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  grpc::Status status;
  if (request->build_id().empty()) status = Missing("build_id");
  if (status.ok()) status = ToGrpcStatus(coordinator_.GetBuildInto(request->build_id(), request->view(), response));
  reactor->Finish(status);
  return reactor;
}

grpc::Status BuildServiceImpl::WatchBuild(grpc::ServerContext* context,
                                          const v1::WatchBuildRequest* request,
                                          grpc::ServerWriter<v1::BuildEvent>* writer) {
  if (request->build_id().empty()) return Missing("build_id");
  v1::BuildEvent first;
  absl::StatusOr<std::shared_ptr<BuildWatcher>> watcher =
      coordinator_.Watch(request->build_id(), first.mutable_snapshot());
  if (!watcher.ok()) return ToGrpcStatus(watcher.status());
  first.set_build_finished(first.snapshot().finished());
  const bool finished = first.build_finished();
  if (!writer->Write(first)) return grpc::Status::CANCELLED;
  if (finished) return grpc::Status::OK;
  while (!context->IsCancelled()) {
    v1::BuildEvent event;
    if (!(*watcher)->Next(&event, kPoll)) {
      if ((*watcher)->closed()) break;
      continue;
    }
    if (!writer->Write(event)) break;
    if (event.build_finished()) {
      (*watcher)->Close();
      return grpc::Status::OK;
    }
  }
  (*watcher)->Close();
  return grpc::Status::CANCELLED;
}

grpc::Status BuildServiceImpl::StreamLog(grpc::ServerContext* context,
                                         const v1::StreamLogRequest* request,
                                         grpc::ServerWriter<v1::LogChunk>* writer) {
  if (request->build_id().empty()) return Missing("build_id");
  if (request->task_id().empty()) return Missing("task_id");
  absl::StatusOr<v1::TaskInfo> task = coordinator_.GetTask(request->build_id(), request->task_id());
  if (!task.ok()) return ToGrpcStatus(task.status());
  uint64_t offset = request->offset();
  if (request->tail_lines() > LogStore::kMaxTailLines) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, absl::StrCat("tail_lines: at most ", LogStore::kMaxTailLines));
  }
  if (request->tail_lines() > 0) {
    absl::StatusOr<uint64_t> tail =
        coordinator_.logs().TailOffset(request->build_id(), request->task_id(), request->tail_lines());
    if (!tail.ok()) return ToGrpcStatus(tail.status());
    offset = *tail;
  }
  while (!context->IsCancelled()) {
    // Whether the task had ended before this read: then an empty read is the true end.
    absl::StatusOr<v1::TaskInfo> now = coordinator_.GetTask(request->build_id(), request->task_id());
    const bool ended = !now.ok() || IsTerminal(now->state());
    absl::StatusOr<std::string> data =
        coordinator_.logs().Read(request->build_id(), request->task_id(), offset, 64 * 1024);
    if (!data.ok()) return ToGrpcStatus(data.status());
    if (!data->empty()) {
      v1::LogChunk chunk;
      chunk.set_offset(offset);
      offset += data->size();
      chunk.set_data(*std::move(data));
      if (!writer->Write(chunk)) return grpc::Status::CANCELLED;
      continue;
    }
    if (!request->follow() || ended) return grpc::Status::OK;
    coordinator_.logs().WaitForGrowth(request->build_id(), request->task_id(), offset, kPoll);
  }
  return grpc::Status::CANCELLED;
}

namespace {

// Streams a stored wheel in kChunkBytes chunks: its size in the first, its sha256 in the last.
grpc::Status StreamWheel(grpc::ServerContext& context, const v1::ArtifactInfo& artifact,
                         const std::filesystem::path& path, grpc::ServerWriter<v1::ArtifactChunk>& writer) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return grpc::Status(grpc::StatusCode::DATA_LOSS, "filename: the stored wheel is missing");
  // One chunk message reused: the file is read straight into its data, no copy between.
  v1::ArtifactChunk chunk;
  chunk.set_total_size(artifact.size_bytes());
  std::string& data = *chunk.mutable_data();
  while (!context.IsCancelled()) {
    data.resize(kChunkBytes);
    in.read(data.data(), static_cast<std::streamsize>(data.size()));
    const size_t n = static_cast<size_t>(in.gcount());
    data.resize(n);
    const bool last = n < kChunkBytes || in.peek() == std::char_traits<char>::eof();
    if (last) chunk.set_sha256(artifact.sha256());
    if (!writer.Write(chunk)) return grpc::Status::CANCELLED;
    if (last) return grpc::Status::OK;
    chunk.clear_total_size();
  }
  return grpc::Status::CANCELLED;
}

}  // namespace

grpc::Status BuildServiceImpl::DownloadArtifact(grpc::ServerContext* context,
                                                const v1::DownloadArtifactRequest* request,
                                                grpc::ServerWriter<v1::ArtifactChunk>* writer) {
  if (request->build_id().empty()) return Missing("build_id");
  if (request->task_id().empty()) return Missing("task_id");
  if (request->filename().empty()) return Missing("filename");
  auto found = coordinator_.FindArtifact(request->build_id(), request->task_id(), request->filename());
  if (!found.ok()) return ToGrpcStatus(found.status());
  return StreamWheel(*context, found->first, found->second, *writer);
}

grpc::Status BuildServiceImpl::Cancel(grpc::ServerContext* context, const v1::CancelRequest* request,
                                      v1::CancelResponse* response) {
  if (request->build_id().empty()) return Missing("build_id");
  absl::StatusOr<uint32_t> n = coordinator_.Cancel(request->build_id(), request->task_id(), CallerOf(*context));
  if (!n.ok()) return ToGrpcStatus(n.status());
  response->set_cancelled(*n);
  return grpc::Status::OK;
}

grpc::Status BuildServiceImpl::Retry(grpc::ServerContext* context, const v1::RetryRequest* request,
                                     v1::RetryResponse* response) {
  if (request->build_id().empty()) return Missing("build_id");
  absl::StatusOr<uint32_t> n = coordinator_.Retry(
      request->build_id(), {request->task_ids().begin(), request->task_ids().end()}, CallerOf(*context));
  if (!n.ok()) return ToGrpcStatus(n.status());
  response->set_requeued(*n);
  return grpc::Status::OK;
}

grpc::Status BuildServiceImpl::ListAgents(grpc::ServerContext* context, const v1::ListAgentsRequest*,
                                          v1::ListAgentsResponse* response) {
  absl::StatusOr<std::vector<v1::AgentInfo>> agents = coordinator_.ListAgents();
  if (!agents.ok()) return ToGrpcStatus(agents.status());
  for (v1::AgentInfo& agent : *agents) *response->add_agents() = std::move(agent);
  return grpc::Status::OK;
}

// ---- AgentService ----

grpc::ServerBidiReactor<v1::AgentMessage, v1::CoordinatorMessage>* AgentServiceImpl::Session(
    grpc::CallbackServerContext* context) {
  auto reactor = std::make_shared<SessionReactor>(coordinator_);
  reactor->Keep(reactor);
  return reactor.get();
}

grpc::Status AgentServiceImpl::DownloadHeldWheel(grpc::ServerContext* context,
                                                 const v1::DownloadHeldWheelRequest* request,
                                                 grpc::ServerWriter<v1::ArtifactChunk>* writer) {
  if (request->attempt_id().empty()) return Missing("attempt_id");
  if (request->filename().empty()) return Missing("filename");
  auto found = coordinator_.FindHeldWheel(*request);
  if (!found.ok()) return ToGrpcStatus(found.status());
  return StreamWheel(*context, found->first, found->second, *writer);
}

grpc::Status AgentServiceImpl::OpenCompileCache(grpc::ServerContext*, const v1::OpenCompileCacheRequest* request,
                                                v1::CompileCacheAccess* response) {
  if (request->attempt_id().empty()) return Missing("attempt_id");
  absl::StatusOr<std::string> domain = coordinator_.TrustDomainOfAttempt(request->build_id(), request->task_id(),
                                                                         request->attempt_id(), request->session());
  if (!domain.ok()) return ToGrpcStatus(domain.status());
  if (compile_cache_ == nullptr) return grpc::Status::OK;  // no shared store: an empty access
  absl::StatusOr<v1::CompileCacheAccess> access = compile_cache_->Open(request->attempt_id(), *domain);
  if (!access.ok()) {
    LogEvent(std::cerr, "warning", absl::StrCat("compile cache: ", access.status().message()),
             {{"attempt_id", request->attempt_id()}});
    return ToGrpcStatus(access.status());
  }
  *response = *std::move(access);
  return grpc::Status::OK;
}

grpc::Status AgentServiceImpl::UploadArtifact(grpc::ServerContext* context,
                                              grpc::ServerReader<v1::UploadChunk>* reader,
                                              v1::ArtifactInfo* response) {
  v1::UploadChunk chunk;
  if (!reader->Read(&chunk) || !chunk.has_header()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "header: the first chunk must be the header");
  }
  const v1::UploadHeader header = chunk.header();
  absl::StatusOr<WheelName> name = ParseWheelFilename(header.filename());
  if (!name.ok()) return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                      absl::StrCat("header.filename: ", name.status().message()));
  if (absl::Status s = coordinator_.CheckUpload(header); !s.ok()) {
    LogEvent(std::cerr, "warning",
             absl::StrCat("refused an upload of ", header.filename(), " for attempt ", header.attempt_id(), ": ",
                          s.message()),
             {{"attempt_id", header.attempt_id()}});
    return ToGrpcStatus(s);
  }
  absl::StatusOr<v1::TaskInfo> task = coordinator_.GetTask(header.build_id(), header.task_id());
  if (!task.ok()) return ToGrpcStatus(task.status());
  absl::StatusOr<std::unique_ptr<ArtifactUpload>> upload =
      coordinator_.artifacts().BeginUpload(header.attempt_id(), header.filename(), header.size_bytes());
  if (!upload.ok()) return ToGrpcStatus(upload.status());
  while (reader->Read(&chunk)) {
    if (chunk.has_data()) {
      if (chunk.data().size() > kChunkBytes) {
        return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                            absl::StrCat("data: a chunk of ", chunk.data().size(), " bytes; chunks are at most ",
                                         kChunkBytes));
      }
      if (absl::Status s = (*upload)->Write(std::move(*chunk.mutable_data())); !s.ok()) return ToGrpcStatus(s);
      continue;
    }
    if (chunk.chunk_case() != v1::UploadChunk::kSha256) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "chunk: a second header");
    }
    if (absl::Status s = coordinator_.CheckUploadDigest(header, chunk.sha256()); !s.ok()) return ToGrpcStatus(s);
    absl::StatusOr<std::filesystem::path> path = (*upload)->Commit(chunk.sha256());
    if (!path.ok()) return ToGrpcStatus(path.status());
    const AxisValues axes = AxesFromProto(task->spec());
    response->set_filename(header.filename());
    response->set_size_bytes(header.size_bytes());
    response->set_sha256(chunk.sha256());
    response->set_wheelhouse_path(
        (WheelhouseDir("", AxisOrEmpty(axes, kPythonAxis), AxisOrEmpty(axes, kCudaAxis),
                       name->platform_tag) /
         header.filename())
            .string());
    return ToGrpcStatus(coordinator_.RecordUpload(header, *response, *path));
  }
  return grpc::Status(context->IsCancelled() ? grpc::StatusCode::CANCELLED
                                             : grpc::StatusCode::INVALID_ARGUMENT,
                      "sha256: the upload ended without its digest");
}

}  // namespace cwb
