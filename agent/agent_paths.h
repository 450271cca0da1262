// The agent's on-disk layout under its work directory:
//
//   <work_dir>/
//   |-- cache/<trust domain>/       shared by the builds of one trust domain only (a project's
//   |   |                           repository and who submitted its build; "local" for builds
//   |   |                           no coordinator assigned)
//   |   |-- pip/                    pip's cache, mounted into its builds at /cwb/cache/pip
//   |   `-- ccache/                 ccache's cache, mounted at /cwb/cache/ccache
//   |-- logs/<task>/<attempt>.log   every line of an attempt: git, image build, container
//   |-- logs/watchdog.log           what watchdogs stopped after their agent died
//   |-- alive/<task>-<attempt>      touched while the attempt runs; its watchdogs stop its builds
//   |                               when it grows stale (the agent died)
//   |-- artifacts/<task>/<attempt>/ the wheels of a successful attempt, until handed on
//   `-- tasks/<task>/<attempt>/     an attempt's workspace, removed when it ends (kept after a
//       |-- src/                    failure when asked): the checkout, mounted at /cwb/src
//       |-- out/                    the build's output, mounted at /cwb/out
//       |-- ctl/                    build.sh, requirements.txt, build_command.sh,
//       |                           repair_command.sh (read-only)
//       |-- test-ctl/               the smoke test's build.sh, test_requirements.txt,
//       |                           test_command.sh (read-only; artifacts/ is its /cwb/wheels)
//       |-- test/                   the smoke test's working directory, /cwb/test
//       `-- image/Dockerfile        the rendered Dockerfile and (empty) build context
#pragma once

#include <filesystem>
#include <string>

namespace cwb::paths {

// A trust domain as a directory name: the coordinator's digest, or "local" for anything else.
inline std::string CacheDomain(const std::string& trust_domain) {
  const bool digest = !trust_domain.empty() && trust_domain.size() <= 64 &&
                      trust_domain.find_first_not_of("0123456789abcdef") == std::string::npos;
  return digest ? trust_domain : "local";
}
inline std::filesystem::path PipCache(const std::filesystem::path& work, const std::string& trust_domain) {
  return work / "cache" / CacheDomain(trust_domain) / "pip";
}
inline std::filesystem::path Ccache(const std::filesystem::path& work, const std::string& trust_domain) {
  return work / "cache" / CacheDomain(trust_domain) / "ccache";
}
inline std::filesystem::path TaskLog(const std::filesystem::path& work, const std::string& task,
                                     const std::string& attempt) {
  return work / "logs" / task / (attempt + ".log");
}
// What the watchdogs of this work directory stopped and removed, one line each.
inline std::filesystem::path WatchdogLog(const std::filesystem::path& work) { return work / "logs" / "watchdog.log"; }
// The directories that hold something of each attempt (an agent's earlier run leaves them).
inline std::filesystem::path AliveDir(const std::filesystem::path& work) { return work / "alive"; }
inline std::filesystem::path ArtifactsDir(const std::filesystem::path& work) { return work / "artifacts"; }
inline std::filesystem::path WorkspacesDir(const std::filesystem::path& work) { return work / "tasks"; }

inline std::filesystem::path Alive(const std::filesystem::path& work, const std::string& task,
                                   const std::string& attempt) {
  return AliveDir(work) / (task + "-" + attempt);
}
inline std::filesystem::path Artifacts(const std::filesystem::path& work, const std::string& task,
                                       const std::string& attempt) {
  return ArtifactsDir(work) / task / attempt;
}
inline std::filesystem::path Workspace(const std::filesystem::path& work, const std::string& task,
                                       const std::string& attempt) {
  return WorkspacesDir(work) / task / attempt;
}

}  // namespace cwb::paths
