// Where a build's and a smoke test's parts are inside their containers (the same paths for the
// host runtime, which maps them), and the directories an attempt makes on the host: shared by the
// files that define BuildPipeline.
#pragma once

#include <filesystem>
#include <initializer_list>

#include "absl/status/status.h"

namespace cwb {

inline constexpr char kSrc[] = "/cwb/src";
inline constexpr char kOut[] = "/cwb/out";
inline constexpr char kCtl[] = "/cwb/ctl";
inline constexpr char kPipCache[] = "/cwb/cache/pip";
inline constexpr char kCcache[] = "/cwb/cache/ccache";
inline constexpr char kWheels[] = "/cwb/wheels";  // the smoke test's wheels
inline constexpr char kTestDir[] = "/cwb/test";   // the smoke test's working directory
// The release gate's run: its helper (read-only), the wheels' ELF members (read-only), its report.
inline constexpr char kAuditTools[] = "/cwb/tools";
inline constexpr char kAuditIn[] = "/cwb/audit-in";
inline constexpr char kAuditOut[] = "/cwb/audit-out";
// The compile cache: the trust domain's key (in the control files), ccache's stats log (in the output).
inline constexpr char kCompileCacheKeyFile[] = "compile-cache.key";
inline constexpr char kCompileCacheStatsLog[] = ".cwb-ccache-stats";

// Creates each directory (and its parents); ResourceExhausted naming the first that cannot be.
absl::Status MakeDirectories(std::initializer_list<std::filesystem::path> dirs);

}  // namespace cwb
