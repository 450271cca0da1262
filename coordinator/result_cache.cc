#include "coordinator/result_cache.h"

#include <cstdio>

#include "absl/strings/str_cat.h"

namespace cwb {

std::map<ResultCache::Source, std::string> ResultCache::Resolve(const std::set<Source>& sources) {
  std::map<Source, std::string> commits;
  for (const Source& source : sources) {
    absl::StatusOr<std::string> commit = resolver_.Resolve(source.first, source.second);
    if (commit.ok()) {
      commits[source] = *commit;
    } else {
      std::fprintf(stderr, "cwb-coordinator: not reusing results of %s: %s\n", source.first.c_str(),
                   std::string(commit.status().message()).c_str());
    }
  }
  return commits;
}

bool ResultCache::Reuse(TaskRecord& task, const std::string& commit, int64_t now_ms,
                        std::set<std::filesystem::path>* synced, std::vector<v1::LogLine>* log) {
  absl::StatusOr<std::optional<v1::TaskInfo>> found = store_.FindResult(task.info.spec().id(), commit);
  if (!found.ok() || !found->has_value()) return false;
  const v1::TaskInfo& earlier = **found;
  std::vector<std::filesystem::path> shared;
  for (const v1::ArtifactInfo& artifact : earlier.artifacts()) {
    absl::Status s = artifacts_.Share(earlier.build_id(), artifact.wheelhouse_path(), task.info.build_id(), synced);
    if (!s.ok()) {
      // Its wheels are gone (or clash): build it after all, leaving nothing behind.
      std::error_code ignored;
      for (const std::filesystem::path& path : shared) std::filesystem::remove(path, ignored);
      return false;
    }
    shared.push_back(artifacts_.BuildDir(task.info.build_id()) / artifact.wheelhouse_path());
  }
  task.info.set_state(v1::TASK_STATE_SUCCEEDED);
  task.info.set_commit(commit);
  *task.info.mutable_artifacts() = earlier.artifacts();
  task.info.set_started_at_ms(now_ms);
  task.info.set_finished_at_ms(now_ms);
  task.info.set_message(absl::StrCat("reused the wheels of build ", earlier.build_id(), " (same spec, commit ",
                                     commit.substr(0, 12), ")"));
  v1::LogLine& line = log->emplace_back();
  line.set_time_ms(now_ms);
  line.set_source("cwb");
  line.set_text(absl::StrCat("result cache: ", task.info.message(), "; nothing was built"));
  hits_.Add();
  return true;
}

void ResultCache::Remember(const v1::TaskInfo& task, StoreBatch& batch) {
  if (task.commit().empty()) return;
  v1::TaskInfo& result = batch.results.emplace_back();
  result.set_build_id(task.build_id());
  result.mutable_spec()->set_id(task.spec().id());
  result.set_commit(task.commit());
  *result.mutable_artifacts() = task.artifacts();
}

}  // namespace cwb
