#include "agent/compile_cache_setup.h"

#include <algorithm>
#include <array>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace cwb {
namespace {

// ccache's counters (4.x, src/core/Statistics.cpp) it files under "uncacheable" and "errors".
constexpr std::array<std::string_view, 19> kUncacheable = {
    "autoconf_test",          "bad_compiler_arguments",      "called_for_link",
    "called_for_preprocessing", "compile_failed",            "compiler_produced_empty_output",
    "compiler_produced_no_output", "compiler_produced_stdout", "could_not_use_modules",
    "could_not_use_precompiled_header", "multiple_source_files", "no_input_file",
    "output_to_stdout",       "preprocessor_error",          "recache",
    "unsupported_code_directive", "unsupported_compiler_option", "unsupported_environment_variable",
    "unsupported_source_language"};
constexpr std::array<std::string_view, 8> kErrors = {
    "bad_output_file",  "compiler_check_failed", "could_not_find_compiler", "error_hashing_extra_file",
    "internal_error",   "missing_cache_file",    "remote_storage_error",    "remote_storage_timeout"};

template <size_t N>
bool In(const std::array<std::string_view, N>& names, std::string_view name) {
  for (std::string_view n : names) {
    if (n == name) return true;
  }
  return false;
}

}  // namespace

std::string RemoteStorageUrl(const v1::CompileCacheAccess& access) {
  if (access.backend().empty()) return "";
  const std::string credential = absl::StrCat(access.user(), ":", access.password(), "@");
  if (access.backend() == "redis") return absl::StrCat("redis://", credential, access.host(), ":", access.port());
  // Each entry is one file named by its key (/cache/<key>); the store checks the credential.
  return absl::StrCat("http://", credential, access.host(), ":", access.port(), "/cache|layout=flat");
}

CompileCacheEnv CompileCacheEnvFor(const v1::TaskSpec& spec, const v1::CompileCacheAccess& access,
                                   const std::string& no_store_reason, const std::string& key_file,
                                   const std::string& stats_log) {
  CompileCacheEnv out;
  if (spec.no_compile_cache()) {
    out.env = {{"CWB_COMPILE_CACHE", "0"}};
    out.description = "compile cache: off (compile_cache: false)";
    return out;
  }
  out.env = {{"CWB_COMPILE_CACHE", "1"},
             // Two attempts in different directories hit (build.sh sets CCACHE_BASEDIR to the source).
             {"CCACHE_NOHASHDIR", "1"},
             {"CCACHE_STATSLOG", stats_log}};
  const std::string url = no_store_reason.empty() ? RemoteStorageUrl(access) : "";
  if (!url.empty()) {
    out.secret_env.emplace_back("CCACHE_REMOTE_STORAGE", url);
    out.secrets.push_back(access.password());
    out.backend = access.backend();
    out.description = absl::StrCat("compile cache: this agent's directory, and the shared store (", access.backend(),
                                   " at ", access.host(), ":", access.port(), ", this build's trust domain only)");
  } else {
    out.description = absl::StrCat("compile cache: this agent's directory only",
                                   no_store_reason.empty() ? "" : absl::StrCat(" (no shared store: ", no_store_reason, ")"));
  }
  if (!access.domain_key().empty()) {
    out.domain_key = access.domain_key();
    out.env.emplace_back("CCACHE_EXTRAFILES", key_file);
  }
  return out;
}

v1::CompileCacheStats ParseCcacheStatsLog(std::string_view text) {
  v1::CompileCacheStats stats;
  for (absl::string_view line : absl::StrSplit(absl::string_view(text.data(), text.size()), '\n', absl::SkipEmpty())) {
    const std::string_view name(line.data(), line.size());
    if (name.front() == '#') continue;
    if (name == "direct_cache_hit" || name == "preprocessed_cache_hit") {
      stats.set_hits(stats.hits() + 1);
    } else if (name == "remote_storage_hit") {
      stats.set_remote_hits(stats.remote_hits() + 1);
    } else if (name == "cache_miss") {
      stats.set_misses(stats.misses() + 1);
    } else if (In(kUncacheable, name)) {
      stats.set_uncacheable(stats.uncacheable() + 1);
      (*stats.mutable_uncacheable_reasons())[std::string(name)] += 1;
    } else if (In(kErrors, name)) {
      stats.set_errors(stats.errors() + 1);
    }
  }
  return stats;
}

double CompileCacheHitRate(const v1::CompileCacheStats& stats) {
  const uint64_t cacheable = stats.hits() + stats.misses();
  return cacheable == 0 ? 0 : static_cast<double>(stats.hits()) / static_cast<double>(cacheable);
}

std::string DescribeCompileCacheStats(const v1::CompileCacheStats& stats) {
  std::vector<std::string> reasons;
  for (const auto& [reason, count] : stats.uncacheable_reasons()) reasons.push_back(absl::StrCat(reason, " ", count));
  std::sort(reasons.begin(), reasons.end());
  return absl::StrCat("compile cache: ", stats.hits(), " hits (", stats.remote_hits(), " from the shared store), ",
                      stats.misses(), " misses, ", stats.uncacheable(), " uncacheable",
                      reasons.empty() ? "" : absl::StrCat(" (", absl::StrJoin(reasons, ", "), ")"), ", ",
                      stats.errors(), " errors; hit rate ",
                      static_cast<int>(std::lround(100 * CompileCacheHitRate(stats))), "%");
}

}  // namespace cwb
