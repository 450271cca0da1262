// What the benchmarks share: their context (size, binaries, scratch space), real git
// repositories and configs written for them, submitting through the CLI's own code, waiting for
// builds, and percentiles.
#pragma once

#include <chrono>
#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/connection.h"
#include "cwb/v1/agent.pb.h"
#include "cwb/v1/state.pb.h"

namespace cwb::bench {

struct BenchContext {
  bool tiny = false;  // the size the test suite runs: proves it works, measures nothing
  std::filesystem::path work_dir;
  std::string coordinator_binary;
  std::string agent_binary;
  std::string cli_binary;
  std::string base_image;  // for benchmarks that run real containers
  std::ostream* progress = nullptr;

  std::ostream& log() const { return *progress; }
  // A fresh directory for one benchmark.
  std::filesystem::path Dir(const std::string& name) const;
};

// A git repository at `dir` with one commit of a pure-Python package named `name`; returns the
// new commit. Calling it again on the same `dir` adds a commit.
std::string CommitPackage(const std::filesystem::path& dir, const std::string& name, const std::string& note);

// Writes a config: the given projects at a matrix of `axes` ("python_version: [3.11]" lines),
// every torch version on `image`, and `extra` appended; returns its path.
struct BenchProject {
  std::string name;
  std::string repo_url;
  std::vector<std::string> labels;
};
std::filesystem::path WriteConfig(const std::filesystem::path& path, const std::vector<BenchProject>& projects,
                                  const std::vector<std::string>& axes,
                                  const std::vector<std::string>& torch_versions,
                                  const std::string& image = "localhost/cwb-base:bookworm",
                                  const std::string& build_command = "");

// Submits through the CLI's submit code; the build id.
absl::StatusOr<std::string> Submit(const std::string& address, const std::filesystem::path& config,
                                   bool no_cache = false);
absl::StatusOr<v1::BuildInfo> GetBuild(const std::string& address, const std::string& build_id);
// Polls until the build is finished (or `timeout`); the build as it ended.
absl::StatusOr<v1::BuildInfo> WaitForBuild(const std::string& address, const std::string& build_id,
                                           std::chrono::seconds timeout);

// The p-th percentile (0..100) of `values` (nearest rank); 0 when empty.
// A simulated agent's status update for `assignment` (ended in `state`, naming `wheels`).
v1::AgentMessage StatusMessage(const v1::Assignment& assignment, v1::TaskState state,
                               const std::vector<std::string>& wheels = {});

double Percentile(std::vector<double> values, double p);

// A file of `bytes` pseudo-random bytes (incompressible, like a wheel's binaries); its sha256.
std::string MakeRandomFile(const std::filesystem::path& path, uint64_t bytes);
// Baseline of the benchmarks that write files: the disk copies `source` to `destination`
// (read, write, fsync); the seconds it took. The copy is removed afterwards.
double DiskWriteSeconds(const std::filesystem::path& source, const std::filesystem::path& destination);
double Seconds(std::chrono::steady_clock::duration d);
// "0", "1", ... "n-1" as a YAML flow list.
std::string Range(int n, const std::string& prefix = "");

}  // namespace cwb::bench
