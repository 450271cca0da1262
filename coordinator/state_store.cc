#include "coordinator/state_store.h"

#include <sqlite3.h>

#include <cstring>
#include <functional>

#include "absl/strings/str_cat.h"

namespace cwb {
namespace {

// Schema version 4: each target's measured resource use beside its duration. Version 3 stored
// rendered Dockerfiles once per image; version 2 kept templates once per build (still read, for
// its rows), target durations and the result cache.
constexpr int kSchemaVersion = 4;

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
CREATE TABLE IF NOT EXISTS build_templates (
  build_id TEXT NOT NULL REFERENCES builds(build_id),
  idx INTEGER NOT NULL,
  text TEXT NOT NULL,
  PRIMARY KEY (build_id, idx)
);
CREATE TABLE IF NOT EXISTS images (
  content_hash TEXT PRIMARY KEY,
  dockerfile TEXT NOT NULL
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
CREATE TABLE IF NOT EXISTS target_durations (
  target TEXT PRIMARY KEY,
  duration_ms INTEGER NOT NULL,
  profile BLOB
);
CREATE TABLE IF NOT EXISTS results (
  task_id TEXT NOT NULL,
  commit_sha TEXT NOT NULL,
  info BLOB NOT NULL,
  PRIMARY KEY (task_id, commit_sha)
);
)sql";

absl::Status SqliteError(sqlite3* db, const char* what) {
  const int code = sqlite3_extended_errcode(db);
  std::string message = absl::StrCat("sqlite: ", what, sqlite3_errmsg(db));
  if ((code & 0xff) == SQLITE_FULL) return absl::ResourceExhaustedError(message);
  return absl::InternalError(message);
}

// A statement prepared once and reset after each use.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql) : db_(db) {
    status_ = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr);
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

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
  // Runs to completion and resets.
  absl::Status Run() {
    if (status_ != SQLITE_OK) return SqliteError(db_, "");
    const int rc = sqlite3_step(stmt_);
    absl::Status status = rc == SQLITE_DONE || rc == SQLITE_ROW ? absl::OkStatus() : SqliteError(db_, "");
    Reset();
    return status;
  }
  // Steps once; true while a row is available. Call Reset when done reading.
  absl::StatusOr<bool> Next() {
    if (status_ != SQLITE_OK) return SqliteError(db_, "");
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    absl::Status status = SqliteError(db_, "");
    Reset();
    return status;
  }
  void Reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  std::string ColumnBlob(int i) {
    const void* data = sqlite3_column_blob(stmt_, i);
    return std::string(static_cast<const char*>(data), sqlite3_column_bytes(stmt_, i));
  }
  std::string ColumnText(int i) {
    const unsigned char* text = sqlite3_column_text(stmt_, i);
    return text == nullptr ? "" : std::string(reinterpret_cast<const char*>(text));
  }
  int64_t ColumnInt(int i) { return sqlite3_column_int64(stmt_, i); }
  bool ColumnIsNull(int i) { return sqlite3_column_type(stmt_, i) == SQLITE_NULL; }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  int status_;
};

// BEGIN IMMEDIATE ... COMMIT, rolled back unless committed.
class Transaction {
 public:
  explicit Transaction(sqlite3* db) : db_(db) {
    begun_ = sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK;
  }
  ~Transaction() {
    if (!done_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  absl::Status begun() const { return begun_ ? absl::OkStatus() : SqliteError(db_, "begin: "); }
  absl::Status Commit() {
    done_ = true;
    if (sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
      absl::Status status = SqliteError(db_, "commit: ");
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      return status;
    }
    return absl::OkStatus();
  }

 private:
  sqlite3* db_;
  bool begun_ = false;
  bool done_ = false;
};

}  // namespace

std::string SerializeWithoutSpec(v1::TaskInfo& task) {
  // Detached rather than copied: a copy of the view with the spec cleared would copy it first.
  v1::TaskSpec* spec = task.release_spec();
  std::string bytes = task.SerializeAsString();
  task.set_allocated_spec(spec);
  return bytes;
}

// Every statement the store runs, prepared once.
class StateStore::Statements {
 public:
  explicit Statements(sqlite3* db)
      : insert_build(db, "INSERT INTO builds(build_id, seq, info) VALUES(?, "
                         "(SELECT COALESCE(MAX(seq), 0) + 1 FROM builds), ?)"),
        insert_image(db, "INSERT OR IGNORE INTO images(content_hash, dockerfile) VALUES(?, ?)"),
        insert_task(db, "INSERT INTO tasks(build_id, task_id, seq, state, info, template_index, spec) "
                        "VALUES(?, ?, ?, ?, ?, ?, ?)"),
        update_task(db, "UPDATE tasks SET state = ?, info = ? WHERE build_id = ? AND task_id = ?"),
        put_agent(db, "INSERT INTO agents(agent_id, info) VALUES(?, ?) ON CONFLICT(agent_id) "
                      "DO UPDATE SET info = excluded.info"),
        start_attempt(db, "INSERT INTO attempts(attempt_id, build_id, task_id, agent_id, "
                          "started_at_ms) VALUES(?, ?, ?, ?, ?)"),
        end_attempt(db, "UPDATE attempts SET finished_at_ms = ?, outcome = ? WHERE attempt_id = ?"),
        put_upload(db, "INSERT INTO uploads(attempt_id, filename, info, path) VALUES(?, ?, ?, ?) "
                       "ON CONFLICT(attempt_id, filename) DO UPDATE SET info = excluded.info, "
                       "path = excluded.path"),
        uploads_for(db, "SELECT info, path FROM uploads WHERE attempt_id = ? ORDER BY filename"),
        delete_uploads(db, "DELETE FROM uploads WHERE attempt_id = ?"),
        put_duration(db, "INSERT INTO target_durations(target, duration_ms, profile) VALUES(?, ?, ?) "
                         "ON CONFLICT(target) DO UPDATE SET duration_ms = excluded.duration_ms, "
                         "profile = excluded.profile"),
        put_result(db, "INSERT INTO results(task_id, commit_sha, info) VALUES(?, ?, ?) "
                       "ON CONFLICT(task_id, commit_sha) DO UPDATE SET info = excluded.info"),
        find_result(db, "SELECT info FROM results WHERE task_id = ? AND commit_sha = ?") {}

  Statement insert_build, insert_image, insert_task, update_task, put_agent, start_attempt,
      end_attempt, put_upload, uploads_for, delete_uploads, put_duration, put_result, find_result;
};

bool StoreBatch::empty() const {
  return tasks.empty() && attempts_started.empty() && attempts_ended.empty() &&
         uploads_deleted.empty() && agents.empty() && targets.empty() && results.empty();
}

void StoreBatch::Append(StoreBatch later) {
  auto move_all = [](auto& to, auto& from) {
    if (to.empty()) {
      to = std::move(from);
    } else {
      to.insert(to.end(), std::make_move_iterator(from.begin()), std::make_move_iterator(from.end()));
    }
  };
  move_all(tasks, later.tasks);
  move_all(attempts_started, later.attempts_started);
  move_all(attempts_ended, later.attempts_ended);
  move_all(uploads_deleted, later.uploads_deleted);
  move_all(agents, later.agents);
  move_all(results, later.results);
  for (auto& [target, record] : later.targets) targets[target] = std::move(record);
}

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
  if (absl::Status s = store->Migrate(); !s.ok()) return s;
  store->statements_ = std::make_unique<Statements>(db);
  // Checkpoints (copying the WAL into the database, with fsyncs) run on a connection and thread
  // of their own, so commits never wait for one.
  if (absl::Status s = store->Exec("PRAGMA wal_autocheckpoint = 0"); !s.ok()) return s;
  sqlite3* checkpoints = nullptr;
  if (sqlite3_open_v2(path.c_str(), &checkpoints, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, nullptr) != SQLITE_OK) {
    std::string message = absl::StrCat("cannot open ", path.string(), ": ", sqlite3_errmsg(checkpoints));
    sqlite3_close(checkpoints);
    return absl::UnavailableError(message);
  }
  sqlite3_busy_timeout(checkpoints, 5000);
  store->checkpointer_ = std::thread([store = store.get(), checkpoints] {
    std::unique_lock lock(store->checkpoint_mutex_);
    while (!store->stopping_) {
      store->checkpoint_cv_.wait_for(lock, std::chrono::seconds(1));
      lock.unlock();
      sqlite3_wal_checkpoint_v2(checkpoints, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
      lock.lock();
    }
    lock.unlock();
    sqlite3_wal_checkpoint_v2(checkpoints, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    sqlite3_close(checkpoints);
  });
  return store;
}

StateStore::StateStore(sqlite3* db) : db_(db) {}

StateStore::~StateStore() {
  {
    std::lock_guard lock(checkpoint_mutex_);
    stopping_ = true;
  }
  checkpoint_cv_.notify_all();
  if (checkpointer_.joinable()) checkpointer_.join();
  statements_.reset();  // statements are finalised before the database closes
  sqlite3_close(db_);
}

absl::Status StateStore::Exec(const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    std::string message = absl::StrCat("sqlite: ", error ? error : "error");
    sqlite3_free(error);
    return absl::InternalError(message);
  }
  return absl::OkStatus();
}

absl::Status StateStore::Migrate() {
  // Version 1 databases kept each task's whole spec, template included, in its info column; from
  // version 2 the spec (without template) is written once, apart, and updates leave it alone.
  for (const char* column : {"template_index INTEGER NOT NULL DEFAULT -1", "spec BLOB"}) {
    const std::string name(column, std::strchr(column, ' '));
    Statement exists(db_, "SELECT 1 FROM pragma_table_info('tasks') WHERE name = ?");
    exists.Text(1, name);
    absl::StatusOr<bool> has_column = exists.Next();
    if (!has_column.ok()) return has_column.status();
    exists.Reset();
    if (!*has_column) {
      if (absl::Status s = Exec(absl::StrCat("ALTER TABLE tasks ADD COLUMN ", column).c_str()); !s.ok()) return s;
    }
  }
  // Version 4 keeps each target's measured resource use beside its duration.
  Statement has_profile(db_, "SELECT 1 FROM pragma_table_info('target_durations') WHERE name = 'profile'");
  absl::StatusOr<bool> profiled = has_profile.Next();
  if (!profiled.ok()) return profiled.status();
  has_profile.Reset();
  if (!*profiled) {
    if (absl::Status s = Exec("ALTER TABLE target_durations ADD COLUMN profile BLOB"); !s.ok()) return s;
  }
  return Exec(absl::StrCat("PRAGMA user_version = ", kSchemaVersion).c_str());
}

absl::Status StateStore::InsertBuild(const v1::BuildInfo& build, const std::map<std::string, std::string>& images,
                                     const std::vector<v1::TaskInfo*>& tasks) {
  std::lock_guard lock(mutex_);
  Transaction transaction(db_);
  if (absl::Status s = transaction.begun(); !s.ok()) return s;
  v1::BuildInfo header = build;
  header.clear_tasks();
  absl::Status s = statements_->insert_build.Text(1, build.build_id())
                       .Blob(2, header.SerializeAsString())
                       .Run();
  if (!s.ok()) return s;
  for (const auto& [content_hash, dockerfile] : images) {
    s = statements_->insert_image.Text(1, content_hash).Text(2, dockerfile).Run();
    if (!s.ok()) return s;
  }
  for (size_t i = 0; i < tasks.size(); ++i) {
    v1::TaskInfo& task = *tasks[i];
    s = statements_->insert_task.Text(1, task.build_id())
            .Text(2, task.spec().id())
            .Int(3, static_cast<int64_t>(i))
            .Int(4, task.state())
            .Blob(5, SerializeWithoutSpec(task))
            .Int(6, -1)
            .Blob(7, task.spec().SerializeAsString())
            .Run();
    if (!s.ok()) return s;
  }
  return transaction.Commit();
}

absl::Status StateStore::Apply(const StoreBatch& batch) {
  if (batch.empty()) return absl::OkStatus();
  std::lock_guard lock(mutex_);
  Transaction transaction(db_);
  if (absl::Status s = transaction.begun(); !s.ok()) return s;
  Statements& st = *statements_;
  for (const TaskRow& task : batch.tasks) {
    absl::Status s =
        st.update_task.Int(1, task.state).Blob(2, task.info).Text(3, task.build_id).Text(4, task.task_id).Run();
    if (!s.ok()) return s;
  }
  for (const AttemptStart& a : batch.attempts_started) {
    absl::Status s = st.start_attempt.Text(1, a.attempt_id)
                         .Text(2, a.build_id)
                         .Text(3, a.task_id)
                         .Text(4, a.agent_id)
                         .Int(5, a.started_at_ms)
                         .Run();
    if (!s.ok()) return s;
  }
  for (const AttemptEnd& a : batch.attempts_ended) {
    absl::Status s =
        st.end_attempt.Int(1, a.finished_at_ms).Text(2, a.outcome).Text(3, a.attempt_id).Run();
    if (!s.ok()) return s;
  }
  for (const std::string& attempt : batch.uploads_deleted) {
    if (absl::Status s = st.delete_uploads.Text(1, attempt).Run(); !s.ok()) return s;
  }
  for (const v1::AgentInfo& agent : batch.agents) {
    absl::Status s = st.put_agent.Text(1, agent.agent_id()).Blob(2, agent.SerializeAsString()).Run();
    if (!s.ok()) return s;
  }
  for (const auto& [target, record] : batch.targets) {
    absl::Status s =
        st.put_duration.Text(1, target).Int(2, record.duration_ms).Blob(3, record.use.SerializeAsString()).Run();
    if (!s.ok()) return s;
  }
  for (const v1::TaskInfo& result : batch.results) {
    absl::Status s = st.put_result.Text(1, result.spec().id())
                         .Text(2, result.commit())
                         .Blob(3, result.SerializeAsString())
                         .Run();
    if (!s.ok()) return s;
  }
  return transaction.Commit();
}

absl::Status StateStore::PutUpload(const UploadRecord& upload) {
  std::lock_guard lock(mutex_);
  return statements_->put_upload.Text(1, upload.attempt_id)
      .Text(2, upload.artifact.filename())
      .Blob(3, upload.artifact.SerializeAsString())
      .Text(4, upload.path.string())
      .Run();
}

absl::StatusOr<std::vector<UploadRecord>> StateStore::UploadsFor(const std::string& attempt_id) {
  std::lock_guard lock(mutex_);
  Statement& query = statements_->uploads_for;
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
  query.Reset();
  return out;
}

absl::StatusOr<std::optional<v1::TaskInfo>> StateStore::FindResult(const std::string& task_id,
                                                                   const std::string& commit) {
  std::lock_guard lock(mutex_);
  Statement& query = statements_->find_result;
  query.Text(1, task_id).Text(2, commit);
  absl::StatusOr<bool> row = query.Next();
  if (!row.ok()) return row.status();
  std::optional<v1::TaskInfo> out;
  if (*row) out.emplace().ParseFromString(query.ColumnBlob(0));
  query.Reset();
  return out;
}

absl::StatusOr<StoredState> StateStore::LoadAll() {
  std::lock_guard lock(mutex_);
  StoredState state;
  // Reads every row of `sql`, handing each to `row`.
  auto read = [&](const char* sql, const std::function<void(Statement&)>& row) -> absl::Status {
    Statement query(db_, sql);
    while (true) {
      absl::StatusOr<bool> next = query.Next();
      if (!next.ok()) return next.status();
      if (!*next) return absl::OkStatus();
      row(query);
    }
  };
  absl::Status s = read("SELECT info FROM builds ORDER BY seq", [&](Statement& q) {
    state.builds.emplace_back().ParseFromString(q.ColumnBlob(0));
  });
  if (s.ok()) {
    s = read("SELECT build_id, text FROM build_templates ORDER BY build_id, idx", [&](Statement& q) {
      state.templates[q.ColumnText(0)].push_back(q.ColumnText(1));
    });
  }
  if (s.ok()) {
    s = read("SELECT content_hash, dockerfile FROM images", [&](Statement& q) {
      state.images[q.ColumnText(0)] = q.ColumnText(1);
    });
  }
  if (s.ok()) {
    s = read("SELECT t.info, t.template_index, t.spec FROM tasks t JOIN builds b ON b.build_id = t.build_id "
             "ORDER BY b.seq, t.seq",
             [&](Statement& q) {
               StoredTask& task = state.tasks.emplace_back();
               task.info.ParseFromString(q.ColumnBlob(0));
               task.template_index = static_cast<int>(q.ColumnInt(1));
               if (q.ColumnIsNull(2)) return;  // a version 1 row: the spec is in info
               task.info.mutable_spec()->ParseFromString(q.ColumnBlob(2));
             });
  }
  if (s.ok()) {
    s = read("SELECT info FROM agents ORDER BY agent_id", [&](Statement& q) {
      state.agents.emplace_back().ParseFromString(q.ColumnBlob(0));
    });
  }
  if (s.ok()) {
    s = read("SELECT target, duration_ms, profile FROM target_durations", [&](Statement& q) {
      TargetRecord& record = state.targets[q.ColumnText(0)];
      record.duration_ms = q.ColumnInt(1);
      if (!q.ColumnIsNull(2)) record.use.ParseFromString(q.ColumnBlob(2));
    });
  }
  if (!s.ok()) return s;
  return state;
}

}  // namespace cwb
