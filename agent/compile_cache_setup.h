// The compile cache of one build attempt, agent side: ccache's settings for the build's
// environment (CompileCacheEnvFor: its directory, the attempt's shared store as remote storage,
// the trust domain's key hashed into every entry, a stats log of its own), and afterwards what
// the cache did, read from that stats log (ParseCcacheStatsLog). build.sh puts the compilers
// behind ccache (templates/container-build.sh).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cwb/v1/agent.pb.h"
#include "cwb/v1/task.pb.h"

namespace cwb {

struct CompileCacheEnv {
  std::vector<std::pair<std::string, std::string>> env;         // CWB_COMPILE_CACHE and ccache's CCACHE_*
  std::vector<std::pair<std::string, std::string>> secret_env;  // CCACHE_REMOTE_STORAGE: it holds the credential
  std::vector<std::string> secrets;                             // to mask in the log
  std::string backend;     // the shared store's ("http", "redis"); empty: none
  std::string domain_key;  // the trust domain's key, for the file at `key_file`; empty: none
  std::string description;  // one line for the attempt's log
};

// ccache's remote_storage for `access` (http://USER:PASSWORD@HOST:PORT/cache|layout=flat, or
// redis://USER:PASSWORD@HOST:PORT); "" without a backend.
std::string RemoteStorageUrl(const v1::CompileCacheAccess& access);

// The settings of a build of `spec`. `access`: the attempt's shared store (an access without a
// backend, or `no_store_reason` set: none). `key_file` and `stats_log` are paths as the build sees them.
CompileCacheEnv CompileCacheEnvFor(const v1::TaskSpec& spec, const v1::CompileCacheAccess& access,
                                   const std::string& no_store_reason, const std::string& key_file,
                                   const std::string& stats_log);

// Counts ccache's stats log (one counter name per line for each call, after a "# <file>" line):
// hits (direct or preprocessed; remote: from the shared store), misses, uncacheable calls by
// ccache's reason, errors.
v1::CompileCacheStats ParseCcacheStatsLog(std::string_view text);

// "compile cache: 41 hits (41 from the shared store), 0 misses, 2 uncacheable (called_for_link 2), 0 errors; hit rate 100%"
std::string DescribeCompileCacheStats(const v1::CompileCacheStats& stats);

// Hits over cacheable calls (hits and misses); 0 when there were none.
double CompileCacheHitRate(const v1::CompileCacheStats& stats);

}  // namespace cwb
