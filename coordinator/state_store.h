// Durable coordinator state in SQLite (WAL): builds, tasks, agents, attempts and uploaded
// artifacts. Tasks and agents are stored as their proto views; the coordinator keeps them in
// memory and writes every change through, so a restarted coordinator resumes from LoadAll().
// Each method is one transaction. Not thread-safe: the coordinator serialises calls.
#pragma once

#include <filesystem>
#include <memory>
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

struct StoredState {
  std::vector<v1::BuildInfo> builds;  // without tasks
  std::vector<v1::TaskInfo> tasks;    // in submission order
  std::vector<v1::AgentInfo> agents;
};

class StateStore {
 public:
  static absl::StatusOr<std::unique_ptr<StateStore>> Open(const std::filesystem::path& path);
  ~StateStore();

  absl::Status InsertBuild(const v1::BuildInfo& build, const std::vector<v1::TaskInfo>& tasks);
  absl::Status PutTasks(const std::vector<const v1::TaskInfo*>& tasks);
  absl::Status PutAgent(const v1::AgentInfo& agent);
  absl::Status RecordAttempt(const std::string& attempt_id, const std::string& build_id,
                             const std::string& task_id, const std::string& agent_id,
                             int64_t started_at_ms);
  absl::Status FinishAttempt(const std::string& attempt_id, int64_t finished_at_ms,
                             const std::string& outcome);
  absl::Status PutUpload(const UploadRecord& upload);
  absl::StatusOr<std::vector<UploadRecord>> UploadsFor(const std::string& attempt_id);
  absl::Status DeleteUploads(const std::string& attempt_id);

  absl::StatusOr<StoredState> LoadAll();

 private:
  explicit StateStore(sqlite3* db) : db_(db) {}
  absl::Status Exec(const char* sql);

  sqlite3* db_;
};

}  // namespace cwb
