#include "coordinator/state_store.h"

#include <sqlite3.h>

#include "absl/strings/str_cat.h"

namespace cwb {
namespace {

constexpr char kSchema[] = R"sql(
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
PRAGMA foreign_keys = ON;
CREATE TABLE IF NOT EXISTS builds (
  build_id TEXT PRIMARY KEY,
  seq INTEGER NOT NULL,
  info BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS tasks (
  build_id TEXT NOT NULL REFERENCES builds(build_id),
  task_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  state INTEGER NOT NULL,
  info BLOB NOT NULL,
  PRIMARY KEY (build_id, task_id)
);
CREATE TABLE IF NOT EXISTS agents (
  agent_id TEXT PRIMARY KEY,
  info BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS attempts (
  attempt_id TEXT PRIMARY KEY,
  build_id TEXT NOT NULL,
  task_id TEXT NOT NULL,
  agent_id TEXT NOT NULL,
  started_at_ms INTEGER NOT NULL,
  finished_at_ms INTEGER,
  outcome TEXT
);
CREATE TABLE IF NOT EXISTS uploads (
  attempt_id TEXT NOT NULL,
  filename TEXT NOT NULL,
  info BLOB NOT NULL,
  path TEXT NOT NULL,
  PRIMARY KEY (attempt_id, filename)
);
)sql";

// A prepared statement that finalises itself.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql) : db_(db) {
    status_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr);
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement& Text(int i, const std::string& v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Statement& Blob(int i, const std::string& v) {
    sqlite3_bind_blob(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Statement& Int(int i, int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  // Runs to completion.
  absl::Status Run() {
    if (status_ != SQLITE_OK) return Error();
    const int rc = sqlite3_step(stmt_);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) return Error();
    return absl::OkStatus();
  }
  // Steps once; true while a row is available.
  absl::StatusOr<bool> Next() {
    if (status_ != SQLITE_OK) return Error();
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return Error();
  }
  std::string ColumnBlob(int i) {
    const void* data = sqlite3_column_blob(stmt_, i);
    return std::string(static_cast<const char*>(data), sqlite3_column_bytes(stmt_, i));
  }
  std::string ColumnText(int i) {
    const unsigned char* text = sqlite3_column_text(stmt_, i);
    return text == nullptr ? "" : std::string(reinterpret_cast<const char*>(text));
  }

 private:
  absl::Status Error() {
    const int code = sqlite3_extended_errcode(db_);
    std::string message = absl::StrCat("sqlite: ", sqlite3_errmsg(db_));
    if (code == SQLITE_FULL) return absl::ResourceExhaustedError(message);
    return absl::InternalError(message);
  }
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  int status_;
};

// BEGIN IMMEDIATE ... COMMIT, rolled back unless committed.
class Transaction {
 public:
  explicit Transaction(sqlite3* db) : db_(db) {
    sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
  }
  ~Transaction() {
    if (!done_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  absl::Status Commit() {
    done_ = true;
    if (sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      return absl::InternalError(absl::StrCat("sqlite commit: ", sqlite3_errmsg(db_)));
    }
    return absl::OkStatus();
  }

 private:
  sqlite3* db_;
  bool done_ = false;
};

absl::Status PutTask(sqlite3* db, const v1::TaskInfo& task, int64_t seq) {
  return Statement(db,
                   "INSERT INTO tasks(build_id, task_id, seq, state, info) VALUES(?, ?, ?, ?, ?) "
                   "ON CONFLICT(build_id, task_id) DO UPDATE SET state = excluded.state, "
                   "info = excluded.info")
      .Text(1, task.build_id())
      .Text(2, task.spec().id())
      .Int(3, seq)
      .Int(4, task.state())
      .Blob(5, task.SerializeAsString())
      .Run();
}

}  // namespace

absl::StatusOr<std::unique_ptr<StateStore>> StateStore::Open(const std::filesystem::path& path) {
  std::error_code error;
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), error);
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    std::string message = absl::StrCat("cannot open ", path.string(), ": ", sqlite3_errmsg(db));
    sqlite3_close(db);
    return absl::UnavailableError(message);
  }
  sqlite3_busy_timeout(db, 5000);
  std::unique_ptr<StateStore> store(new StateStore(db));
  if (absl::Status s = store->Exec(kSchema); !s.ok()) return s;
  return store;
}

StateStore::~StateStore() { sqlite3_close(db_); }

absl::Status StateStore::Exec(const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    std::string message = absl::StrCat("sqlite: ", error ? error : "error");
    sqlite3_free(error);
    return absl::InternalError(message);
  }
  return absl::OkStatus();
}

absl::Status StateStore::InsertBuild(const v1::BuildInfo& build,
                                     const std::vector<v1::TaskInfo>& tasks) {
  Transaction transaction(db_);
  v1::BuildInfo header = build;
  header.clear_tasks();
  absl::Status s = Statement(db_,
                             "INSERT INTO builds(build_id, seq, info) VALUES(?, "
                             "(SELECT COALESCE(MAX(seq), 0) + 1 FROM builds), ?)")
                       .Text(1, build.build_id())
                       .Blob(2, header.SerializeAsString())
                       .Run();
  if (!s.ok()) return s;
  for (size_t i = 0; i < tasks.size(); ++i) {
    if (s = PutTask(db_, tasks[i], static_cast<int64_t>(i)); !s.ok()) return s;
  }
  return transaction.Commit();
}

absl::Status StateStore::PutTasks(const std::vector<const v1::TaskInfo*>& tasks) {
  Transaction transaction(db_);
  for (const v1::TaskInfo* task : tasks) {
    // seq is kept from the insert (ON CONFLICT leaves it).
    if (absl::Status s = PutTask(db_, *task, 0); !s.ok()) return s;
  }
  return transaction.Commit();
}

absl::Status StateStore::PutAgent(const v1::AgentInfo& agent) {
  return Statement(db_,
                   "INSERT INTO agents(agent_id, info) VALUES(?, ?) ON CONFLICT(agent_id) DO UPDATE "
                   "SET info = excluded.info")
      .Text(1, agent.agent_id())
      .Blob(2, agent.SerializeAsString())
      .Run();
}

absl::Status StateStore::RecordAttempt(const std::string& attempt_id, const std::string& build_id,
                                       const std::string& task_id, const std::string& agent_id,
                                       int64_t started_at_ms) {
  return Statement(db_,
                   "INSERT INTO attempts(attempt_id, build_id, task_id, agent_id, started_at_ms) "
                   "VALUES(?, ?, ?, ?, ?)")
      .Text(1, attempt_id)
      .Text(2, build_id)
      .Text(3, task_id)
      .Text(4, agent_id)
      .Int(5, started_at_ms)
      .Run();
}

absl::Status StateStore::FinishAttempt(const std::string& attempt_id, int64_t finished_at_ms,
                                       const std::string& outcome) {
  return Statement(db_, "UPDATE attempts SET finished_at_ms = ?, outcome = ? WHERE attempt_id = ?")
      .Int(1, finished_at_ms)
      .Text(2, outcome)
      .Text(3, attempt_id)
      .Run();
}

absl::Status StateStore::PutUpload(const UploadRecord& upload) {
  return Statement(db_,
                   "INSERT INTO uploads(attempt_id, filename, info, path) VALUES(?, ?, ?, ?) "
                   "ON CONFLICT(attempt_id, filename) DO UPDATE SET info = excluded.info, "
                   "path = excluded.path")
      .Text(1, upload.attempt_id)
      .Text(2, upload.artifact.filename())
      .Blob(3, upload.artifact.SerializeAsString())
      .Text(4, upload.path.string())
      .Run();
}

absl::StatusOr<std::vector<UploadRecord>> StateStore::UploadsFor(const std::string& attempt_id) {
  Statement query(db_, "SELECT info, path FROM uploads WHERE attempt_id = ? ORDER BY filename");
  query.Text(1, attempt_id);
  std::vector<UploadRecord> out;
  while (true) {
    absl::StatusOr<bool> row = query.Next();
    if (!row.ok()) return row.status();
    if (!*row) break;
    UploadRecord record;
    record.attempt_id = attempt_id;
    record.artifact.ParseFromString(query.ColumnBlob(0));
    record.path = query.ColumnText(1);
    out.push_back(std::move(record));
  }
  return out;
}

absl::Status StateStore::DeleteUploads(const std::string& attempt_id) {
  return Statement(db_, "DELETE FROM uploads WHERE attempt_id = ?").Text(1, attempt_id).Run();
}

absl::StatusOr<StoredState> StateStore::LoadAll() {
  StoredState state;
  {
    Statement query(db_, "SELECT info FROM builds ORDER BY seq");
    while (true) {
      absl::StatusOr<bool> row = query.Next();
      if (!row.ok()) return row.status();
      if (!*row) break;
      state.builds.emplace_back().ParseFromString(query.ColumnBlob(0));
    }
  }
  {
    Statement query(db_,
                    "SELECT t.info FROM tasks t JOIN builds b ON b.build_id = t.build_id "
                    "ORDER BY b.seq, t.seq");
    while (true) {
      absl::StatusOr<bool> row = query.Next();
      if (!row.ok()) return row.status();
      if (!*row) break;
      state.tasks.emplace_back().ParseFromString(query.ColumnBlob(0));
    }
  }
  {
    Statement query(db_, "SELECT info FROM agents ORDER BY agent_id");
    while (true) {
      absl::StatusOr<bool> row = query.Next();
      if (!row.ok()) return row.status();
      if (!*row) break;
      state.agents.emplace_back().ParseFromString(query.ColumnBlob(0));
    }
  }
  return state;
}

}  // namespace cwb
