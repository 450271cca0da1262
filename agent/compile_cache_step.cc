// BuildPipeline's part in the compile cache: the settings of a build attempt, and what the cache
// did for it (compile_cache_setup.h).
#include <algorithm>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "agent/build_pipeline.h"
#include "agent/pipeline_paths.h"

namespace cwb {
namespace fs = std::filesystem;

CompileCacheEnv BuildPipeline::CompileCacheOf(const TaskRun& run) const {
  const v1::TaskSpec& spec = *run.spec;
  v1::CompileCacheAccess access;
  std::string no_store_reason;
  if (run.step != v1::TASK_STEP_TEST && !spec.no_compile_cache() && run.open_compile_cache) {
    absl::StatusOr<v1::CompileCacheAccess> opened = run.open_compile_cache();
    if (opened.ok()) {
      access = *std::move(opened);
    } else {
      no_store_reason = std::string(opened.status().message());
    }
  }
  return CompileCacheEnvFor(spec, access, no_store_reason, absl::StrCat(kCtl, "/", kCompileCacheKeyFile),
                            absl::StrCat(kOut, "/", kCompileCacheStatsLog));
}

std::optional<v1::CompileCacheStats> BuildPipeline::CompileCacheStatsOf(const fs::path& out, const CompileCacheEnv& cache,
                                                                        LogSink& log) const {
  const fs::path file = out / kCompileCacheStatsLog;
  std::error_code error;
  if (!fs::is_regular_file(fs::symlink_status(file, error))) return std::nullopt;
  // The build wrote it: read a bounded amount (a line per counter of each compiler call).
  constexpr uintmax_t kLimit = 64 << 20;
  const uintmax_t size = fs::file_size(file, error);
  std::ifstream in(file, std::ios::binary);
  std::string text(static_cast<size_t>(error ? 0 : std::min(size, kLimit)), '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  fs::remove(file, error);
  v1::CompileCacheStats stats = ParseCcacheStatsLog(text);
  stats.set_shared_store(cache.backend);
  log.Write("cwb", DescribeCompileCacheStats(stats));
  return stats;
}

}  // namespace cwb
