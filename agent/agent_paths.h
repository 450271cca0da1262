// The agent's on-disk layout under its work directory:
//
//   <work_dir>/
//   |-- cache/
//   |   |-- pip/                    pip's cache, mounted into every build at /cwb/cache/pip
//   |   `-- ccache/                 ccache's cache, mounted at /cwb/cache/ccache
//   |-- logs/<task>/<attempt>.log   every line of an attempt: git, image build, container
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

inline std::filesystem::path PipCache(const std::filesystem::path& work) { return work / "cache" / "pip"; }
inline std::filesystem::path Ccache(const std::filesystem::path& work) { return work / "cache" / "ccache"; }
inline std::filesystem::path TaskLog(const std::filesystem::path& work, const std::string& task,
                                     const std::string& attempt) {
  return work / "logs" / task / (attempt + ".log");
}
inline std::filesystem::path Artifacts(const std::filesystem::path& work, const std::string& task,
                                       const std::string& attempt) {
  return work / "artifacts" / task / attempt;
}
inline std::filesystem::path Workspace(const std::filesystem::path& work, const std::string& task,
                                       const std::string& attempt) {
  return work / "tasks" / task / attempt;
}

}  // namespace cwb::paths
