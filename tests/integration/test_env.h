// Helpers for integration tests: real git repositories made by the test, the local base image,
// commands run for real. Tests that need podman fail (not skip) when CWB_REQUIRE_PODMAN=1, as
// scripts/test.sh sets it, so CI cannot pass without running them.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/process/boost_process_runner.h"
#include "common/config/config_parser.h"
#include "common/config/planner.h"
#include "common/rpc/task_proto.h"
#include "gtest/gtest.h"

namespace cwb::testing {

inline constexpr char kBaseImage[] = "localhost/cwb-base:bookworm";

// Runs argv for real; fails the test (and returns the output) when it exits non-zero.
inline std::string MustRun(std::vector<std::string> argv,
                           std::vector<std::pair<std::string, std::string>> env = {},
                           const std::filesystem::path& cwd = {}) {
  BoostProcessRunner runner;
  env.insert(env.end(), {{"GIT_AUTHOR_NAME", "cwb test"}, {"GIT_AUTHOR_EMAIL", "test@cwb.invalid"},
                         {"GIT_COMMITTER_NAME", "cwb test"},
                         {"GIT_COMMITTER_EMAIL", "test@cwb.invalid"}});
  absl::StatusOr<CapturedRun> run = RunAndCapture(runner, {argv, env, cwd});
  EXPECT_TRUE(run.ok()) << run.status();
  if (!run.ok()) return "";
  EXPECT_TRUE(run->exit.ok()) << absl::StrJoin(argv, " ") << ": " << run->exit.Describe() << "\n"
                              << run->output;
  return run->output;
}

inline std::string Git(const std::filesystem::path& repo, std::vector<std::string> args) {
  std::vector<std::string> argv = {"git", "-C", repo.string(), "-c", "protocol.file.allow=always"};
  argv.insert(argv.end(), args.begin(), args.end());
  return MustRun(argv);
}

// A fresh directory for this test.
inline std::filesystem::path TestDir(const std::string& name) {
  const std::filesystem::path dir = std::filesystem::path(::testing::TempDir()) /
                                    absl::StrCat("cwb_it_", ::getpid(), "_", name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// True when podman and the base image are usable; otherwise the caller should skip, unless
// CWB_REQUIRE_PODMAN=1 makes that a failure.
inline bool PodmanReady() {
  BoostProcessRunner runner;
  absl::StatusOr<CapturedRun> run = RunAndCapture(runner, {{"podman", "image", "exists", kBaseImage}});
  const bool ready = run.ok() && run->exit.ok();
  if (!ready && std::getenv("CWB_REQUIRE_PODMAN") != nullptr) {
    ADD_FAILURE() << "podman or " << kBaseImage << " is not ready (run scripts/test.sh)";
  }
  return ready;
}

// The demo package (examples/demo-package) as a git repository with a submodule `vendor`
// holding data.txt, tagged v0.1.0; then a commit on main that breaks the C source, so only a
// checkout of the tag builds.
inline std::filesystem::path MakeDemoRepository(const std::filesystem::path& dir) {
  const std::filesystem::path vendor = dir / "vendor-data";
  std::filesystem::create_directories(vendor);
  MustRun({"sh", "-c", "echo 'vendored data' > data.txt"}, {}, vendor);
  Git(vendor, {"init", "-q", "-b", "main"});
  Git(vendor, {"add", "-A"});
  Git(vendor, {"commit", "-q", "-m", "vendor data"});

  const std::filesystem::path repo = dir / "demo";
  std::filesystem::copy(std::filesystem::path(CWB_SOURCE_DIR) / "examples/demo-package", repo,
                        std::filesystem::copy_options::recursive);
  Git(repo, {"init", "-q", "-b", "main"});
  Git(repo, {"submodule", "add", "-q", vendor.string(), "vendor"});
  Git(repo, {"add", "-A"});
  Git(repo, {"commit", "-q", "-m", "demo 0.1.0"});
  Git(repo, {"tag", "v0.1.0"});
  MustRun({"sh", "-c", "echo 'this is not C' >> cwb_demo/_native.c"}, {}, repo);
  Git(repo, {"commit", "-q", "-am", "break the build on main"});
  return repo;
}

// The only task of a one-target config, through the real parser and planner (test failures on
// errors). `dir` is where relative paths in the config resolve.
inline v1::TaskSpec PlanOnlyTask(const std::string& config_text, const std::filesystem::path& dir) {
  absl::StatusOr<Config> parsed = LoadConfigText(config_text, "test.yaml", dir);
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  if (!parsed.ok()) return {};
  Diagnostics diagnostics;
  std::optional<BuildPlan> plan = PlanBuild(*parsed, diagnostics);
  EXPECT_TRUE(plan.has_value() && plan->tasks.size() == 1) << diagnostics.ToString();
  if (!plan.has_value() || plan->tasks.empty()) return {};
  return ToProto(plan->tasks.front());
}

// A git repository holding a copy of `source` (a directory of the cwb source tree), tagged v0.1.0.
inline std::filesystem::path MakeRepositoryFrom(const std::filesystem::path& dir,
                                                const std::string& source, const std::string& name) {
  const std::filesystem::path repo = dir / name;
  std::filesystem::copy(std::filesystem::path(CWB_SOURCE_DIR) / source, repo,
                        std::filesystem::copy_options::recursive);
  Git(repo, {"init", "-q", "-b", "main"});
  Git(repo, {"add", "-A"});
  Git(repo, {"commit", "-q", "-m", name});
  Git(repo, {"tag", "v0.1.0"});
  return repo;
}

// A host-runtime toolchain: a venv of Debian's Python (its pip, setuptools and wheel come along)
// with a stand-in torch reporting `torch_version` and `cuda` (None for a CPU build), as a GPU
// host's /opt/torch/.venv would. Returns the venv's python.
inline std::string MakeStandInToolchain(const std::filesystem::path& venv, const std::string& torch_version = "2.4.0+cpu",
                                        const std::string& cuda = "None") {
  MustRun({"/usr/bin/python3", "-m", "venv", "--system-site-packages", venv.string()});
  const std::string python = (venv / "bin/python").string();
  const std::string site = MustRun({python, "-c", "import site; print(site.getsitepackages()[0])"});
  std::filesystem::create_directories(std::filesystem::path(site) / "torch");
  std::ofstream(std::filesystem::path(site) / "torch" / "__init__.py")
      << "__version__ = '" << torch_version << "'\nclass version:\n    cuda = " << cuda << "\n";
  return python;
}

}  // namespace cwb::testing

namespace cwb::testing {

// A tmpfs of `size` (e.g. "2m") mounted at `dir` for the scope's lifetime: a disk that fills up.
// mounted() is false where mounting is not allowed (not root); tests then skip, unless
// CWB_REQUIRE_PODMAN=1 (set by scripts/test.sh, which runs as root) makes that a failure.
class SmallDisk {
 public:
  SmallDisk(const std::filesystem::path& dir, const std::string& size) : dir_(dir) {
    std::filesystem::create_directories(dir);
    BoostProcessRunner runner;
    absl::StatusOr<CapturedRun> run =
        RunAndCapture(runner, {{"mount", "-t", "tmpfs", "-o", "size=" + size, "tmpfs", dir.string()}});
    mounted_ = run.ok() && run->exit.ok();
    if (!mounted_ && std::getenv("CWB_REQUIRE_PODMAN") != nullptr) {
      ADD_FAILURE() << "cannot mount a tmpfs at " << dir << (run.ok() ? ": " + run->output : "");
    }
  }
  ~SmallDisk() {
    if (!mounted_) return;
    BoostProcessRunner runner;
    (void)RunAndCapture(runner, {{"umount", "--lazy", dir_.string()}});
  }
  bool mounted() const { return mounted_; }

 private:
  std::filesystem::path dir_;
  bool mounted_ = false;
};

}  // namespace cwb::testing
