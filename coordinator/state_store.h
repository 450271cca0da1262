// Durable coordinator state in SQLite (WAL): builds, tasks, agents, attempts, uploaded artifacts,
// how long each target took to build, and the result cache. Tasks and agents are stored as their
// proto views; each distinct rendered Dockerfile is stored once, by its content hash, not in every
// task. The
// coordinator keeps everything in memory and writes each batch of changes through in one
// transaction (Apply), so a restarted coordinator resumes from LoadAll(). Opening an older
// database upgrades its schema in place. Thread-safe: calls are serialised.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cwb/v1/state.pb.h"

struct sqlite3;

namespace cwb {

// A wheel uploaded for an attempt, not yet part of a succeeded task.
struct UploadRecord {
  std::string attempt_id;
  v1::ArtifactInfo artifact;
  std::filesystem::path path;  // where the verified file lies
};

// A task as stored: its view, whose spec lacks the rendered Dockerfile (see StoredState::images).
// Rows from before Dockerfiles were rendered by the client name the template they were made from:
// template_index into their build's templates, or -1 with the template in the spec itself.
struct StoredTask {
  v1::TaskInfo info;
  int template_index = -1;
};

// What is known of one target (a project at one value of every axis) from earlier builds.
struct TargetRecord {
  int64_t duration_ms = -1;  // expected build time; -1: never succeeded
  v1::ResourceUse use;       // its last measured attempt (peak memory, CPU time, jobs); empty: never measured
};

struct StoredState {
  std::vector<v1::BuildInfo> builds;                          // without tasks, in submission order
  std::map<std::string, std::string> images;                  // rendered Dockerfiles by content hash
  std::map<std::string, std::vector<std::string>> templates;  // by build, of rows from before images
  std::vector<StoredTask> tasks;                              // in submission order
  std::vector<v1::AgentInfo> agents;
  std::map<std::string, TargetRecord> targets;  // by target key
};

struct AttemptStart {
  std::string attempt_id, build_id, task_id, agent_id;
  int64_t started_at_ms = 0;
};

struct AttemptEnd {
  std::string attempt_id;
  int64_t finished_at_ms = 0;
  std::string outcome;  // succeeded, failed, cancelled, lost
};

// A new view of a task already inserted, serialized.
struct TaskRow {
  std::string build_id, task_id;
  int state = 0;
  std::string info;  // SerializeWithoutSpec: the spec never changes and is stored once
};

// `task` serialized without its spec (which it detaches for the moment this takes, and puts back).
std::string SerializeWithoutSpec(v1::TaskInfo& task);

// Changes made durable together by StateStore::Apply, in this order.
struct StoreBatch {
  std::vector<TaskRow> tasks;
  std::vector<AttemptStart> attempts_started;
  std::vector<AttemptEnd> attempts_ended;
  std::vector<std::string> uploads_deleted;  // attempt ids whose upload records go
  std::vector<v1::AgentInfo> agents;
  std::map<std::string, TargetRecord> targets;  // by target key
  // Succeeded tasks (build_id, spec.id, commit, artifacts) to reuse for the same spec and commit.
  std::vector<v1::TaskInfo> results;

  bool empty() const;
  // Adds `later`'s changes after these.
  void Append(StoreBatch later);
};

// Where a CommitWriter writes its batches (the StateStore; a fake in unit tests).
class BatchSink {
 public:
  virtual ~BatchSink() = default;
  // Writes the batch in one transaction: all of it, or (failing) none of it.
  virtual absl::Status Apply(const StoreBatch& batch) = 0;
};

class StateStore final : public BatchSink {
 public:
  static absl::StatusOr<std::unique_ptr<StateStore>> Open(const std::filesystem::path& path);
  ~StateStore();

  // A new build with its tasks and the Dockerfiles they use (by content hash; kept once however
  // many builds use one), in one transaction.
  absl::Status InsertBuild(const v1::BuildInfo& build, const std::map<std::string, std::string>& images,
                           const std::vector<v1::TaskInfo*>& tasks);
  absl::Status Apply(const StoreBatch& batch) override;
  absl::Status PutUpload(const UploadRecord& upload);
  absl::StatusOr<std::vector<UploadRecord>> UploadsFor(const std::string& attempt_id);
  // The stored result of a task with this spec id built at this commit, if any.
  absl::StatusOr<std::optional<v1::TaskInfo>> FindResult(const std::string& task_id,
                                                         const std::string& commit);

  absl::StatusOr<StoredState> LoadAll();

 private:
  class Statements;
  explicit StateStore(sqlite3* db);
  absl::Status Exec(const char* sql);
  absl::Status Migrate();

  std::mutex mutex_;
  sqlite3* db_;
  std::unique_ptr<Statements> statements_;
  // A thread that checkpoints the WAL every second on its own connection.
  std::mutex checkpoint_mutex_;
  std::condition_variable checkpoint_cv_;
  bool stopping_ = false;
  std::thread checkpointer_;
};

}  // namespace cwb
