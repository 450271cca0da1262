// The result cache: a task whose spec was built before at the commit its source resolves to now
// is completed at once with the wheels of that earlier build (hard links into the new build's
// wheelhouse), nothing built. Sources are resolved once per repository and ref at submission
// (git ls-remote, outside the coordinator's lock); a succeeded task's result is remembered in the
// store for its spec and commit. Thread-safe as its parts are: the resolver and stores are.
#pragma once

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/web/metrics.h"
#include "coordinator/artifact_store.h"
#include "coordinator/source_resolver.h"
#include "coordinator/state_store.h"
#include "coordinator/task_record.h"

namespace cwb {

class ResultCache {
 public:
  using Source = std::pair<std::string, std::string>;  // repo_url, repo_ref
  ResultCache(StateStore& store, ArtifactStore& artifacts, SourceResolver& resolver, Counter& hits)
      : store_(store), artifacts_(artifacts), resolver_(resolver), hits_(hits) {}

  // The commit each source names now, asked once per source; a source that cannot be resolved
  // is left out (its tasks are just built), with a line on stderr saying why.
  std::map<Source, std::string> Resolve(const std::set<Source>& sources);
  // Completes `task` (a new task, not yet in the table) from an earlier build of its spec at
  // `commit` whose wheels are still stored: SUCCEEDED, the wheels shared into its build, a line
  // for its log in `log`; the directories to sync before it is stored go into `synced`. False,
  // leaving nothing behind, when there is no such result.
  bool Reuse(TaskRecord& task, const std::string& commit, int64_t now_ms, std::set<std::filesystem::path>* synced,
             std::vector<v1::LogLine>* log);
  // Remembers a succeeded task's wheels for its spec and commit (when it has one).
  static void Remember(const v1::TaskInfo& task, StoreBatch& batch);

 private:
  StateStore& store_;
  ArtifactStore& artifacts_;
  SourceResolver& resolver_;
  Counter& hits_;
};

}  // namespace cwb
