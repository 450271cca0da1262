#include "bench/bench_util.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/remote_commands.h"
#include "common/process/boost_process_runner.h"
#include "common/base/digest.h"
#include "common/rpc/grpc_status.h"
#include "common/rpc/task_proto.h"
#include "common/rpc/task_state.h"

namespace cwb::bench {
namespace {

absl::Status Run(const std::vector<std::string>& argv, const std::filesystem::path& cwd, std::string* output = nullptr) {
  BoostProcessRunner runner;
  ProcessSpec spec{argv,
                   {{"GIT_AUTHOR_NAME", "cwb bench"}, {"GIT_AUTHOR_EMAIL", "bench@cwb.invalid"},
                    {"GIT_COMMITTER_NAME", "cwb bench"}, {"GIT_COMMITTER_EMAIL", "bench@cwb.invalid"}},
                   cwd};
  absl::StatusOr<CapturedRun> run = RunAndCapture(runner, spec);
  if (!run.ok()) return run.status();
  if (!run->exit.ok()) {
    return absl::InternalError(absl::StrCat(absl::StrJoin(argv, " "), ": ", run->exit.Describe(), ": ", run->output));
  }
  if (output != nullptr) *output = run->output;
  return absl::OkStatus();
}

ConnectionSettings Settings(const std::string& address) {
  ConnectionSettings settings;
  settings.coordinator = address;
  return settings;
}

}  // namespace

std::filesystem::path BenchContext::Dir(const std::string& name) const {
  const std::filesystem::path dir = work_dir / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

std::string CommitPackage(const std::filesystem::path& dir, const std::string& name, const std::string& note) {
  const bool fresh = !std::filesystem::exists(dir / ".git");
  std::filesystem::create_directories(dir / name);
  std::ofstream(dir / "pyproject.toml") << "[project]\nname = \"" << name << "\"\nversion = \"1.0\"\n";
  std::ofstream(dir / name / "__init__.py") << "# " << note << "\n";
  if (fresh) (void)Run({"git", "init", "-q", "-b", "main"}, dir);
  (void)Run({"git", "add", "-A"}, dir);
  (void)Run({"git", "commit", "-q", "--allow-empty", "-m", note}, dir);
  std::string head;
  (void)Run({"git", "rev-parse", "HEAD"}, dir, &head);
  return head.substr(0, 40);
}

std::filesystem::path WriteConfig(const std::filesystem::path& path, const std::vector<BenchProject>& projects,
                                  const std::vector<std::string>& axes,
                                  const std::vector<std::string>& torch_versions, const std::string& image,
                                  const std::string& build_command) {
  std::ostringstream yaml;
  yaml << "build_matrix:\n";
  for (const std::string& axis : axes) yaml << "  " << axis << "\n";
  yaml << "  pytorch_version: [" << absl::StrJoin(torch_versions, ", ") << "]\n";
  yaml << "projects:\n";
  for (const BenchProject& project : projects) {
    yaml << "  - name: " << project.name << "\n    repo_url: " << project.repo_url << "\n";
    if (!build_command.empty()) yaml << "    build_command: |\n      " << build_command << "\n";
    if (!project.labels.empty()) yaml << "    labels: [" << absl::StrJoin(project.labels, ", ") << "]\n";
  }
  yaml << "pytorch_base_images:\n";
  for (const std::string& torch : torch_versions) yaml << "  \"" << torch << "\": {cpu: " << image << "}\n";
  std::ofstream(path) << yaml.str();
  return path;
}

absl::StatusOr<std::string> Submit(const std::string& address, const std::filesystem::path& config,
                                   bool no_cache) {
  RemoteOptions options;
  options.connection = Settings(address);
  options.no_cache = no_cache;
  std::ostringstream out, err;
  std::string build_id;
  if (SubmitCommand(options, config.string(), /*watch=*/false, out, err, &build_id) != 0) {
    return absl::InternalError(absl::StrCat("submit ", config.string(), ": ", err.str()));
  }
  return build_id;
}

absl::StatusOr<v1::BuildInfo> GetBuild(const std::string& address, const std::string& build_id) {
  CoordinatorConnection connection(Settings(address));
  v1::GetBuildRequest request;
  request.set_build_id(build_id);
  v1::BuildInfo build;
  grpc::Status status = connection.stub().GetBuild(connection.Context().get(), request, &build);
  if (!status.ok()) return FromGrpcStatus(status);
  return build;
}

absl::StatusOr<v1::BuildInfo> WaitForBuild(const std::string& address, const std::string& build_id,
                                           std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  CoordinatorConnection connection(Settings(address));
  v1::GetBuildRequest request;
  request.set_build_id(build_id);
  request.set_view(v1::TASK_VIEW_NONE);
  while (true) {
    v1::BuildInfo build;
    grpc::Status status = connection.stub().GetBuild(connection.Context().get(), request, &build);
    if (!status.ok()) return FromGrpcStatus(status);
    if (build.finished()) return GetBuild(address, build_id);
    if (std::chrono::steady_clock::now() > deadline) {
      absl::StatusOr<v1::BuildInfo> full = GetBuild(address, build_id);
      if (!full.ok()) return full.status();
      build = *std::move(full);
      std::map<std::string, int> states;
      std::string example;
      for (const v1::TaskInfo& task : build.tasks()) {
        ++states[StateName(task.state())];
        if (!IsTerminal(task.state()) && example.empty()) {
          example = absl::StrCat("; e.g. task ", task.spec().id(), ": ", task.message(), " ", task.waiting_reason());
        }
      }
      std::string counts;
      for (const auto& [state, n] : states) absl::StrAppend(&counts, counts.empty() ? "" : ", ", n, " ", state);
      return absl::DeadlineExceededError(absl::StrCat("build ", build_id, " not finished after ",
                                                      timeout.count(), " s: ", counts, example));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

v1::AgentMessage StatusMessage(const v1::Assignment& assignment, v1::TaskState state,
                               const std::vector<std::string>& wheels) {
  v1::AgentMessage message = StatusUpdate(assignment, state);
  for (const std::string& wheel : wheels) message.mutable_status()->add_artifact_filenames(wheel);
  return message;
}

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(values.size())));
  return values[std::clamp<size_t>(rank, 1, values.size()) - 1];
}

double Seconds(std::chrono::steady_clock::duration d) { return std::chrono::duration<double>(d).count(); }

std::string Range(int n, const std::string& prefix) {
  std::vector<std::string> values;
  for (int i = 0; i < n; ++i) values.push_back(absl::StrCat(prefix, i));
  return absl::StrCat("[", absl::StrJoin(values, ", "), "]");
}

std::string MakeRandomFile(const std::filesystem::path& path, uint64_t bytes) {
  constexpr size_t kBlock = 1 << 20;
  std::ofstream out(path, std::ios::binary);
  std::string block(kBlock, '\0');
  uint64_t state = 0x9e3779b97f4a7c15ull;
  Sha256 hasher;
  for (uint64_t done = 0; done < bytes;) {
    for (size_t i = 0; i + 8 <= block.size(); i += 8) {
      state += 0x9e3779b97f4a7c15ull;
      uint64_t z = state;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
      z ^= z >> 31;
      std::memcpy(&block[i], &z, 8);
    }
    const size_t n = static_cast<size_t>(std::min<uint64_t>(block.size(), bytes - done));
    out.write(block.data(), static_cast<std::streamsize>(n));
    hasher.Update(std::string_view(block.data(), n));
    done += n;
  }
  return hasher.FinishHex();
}

double DiskWriteSeconds(const std::filesystem::path& source, const std::filesystem::path& destination) {
  constexpr size_t kBlock = 1 << 20;
  const auto start = std::chrono::steady_clock::now();
  const int in = ::open(source.c_str(), O_RDONLY | O_CLOEXEC);
  const int out = ::open(destination.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  std::string block(kBlock, '\0');
  for (ssize_t n; (n = ::read(in, block.data(), block.size())) > 0;) {
    for (ssize_t written = 0; written < n;) written += ::write(out, block.data() + written, n - written);
  }
  ::fsync(out);
  ::close(out);
  ::close(in);
  const double seconds = Seconds(std::chrono::steady_clock::now() - start);
  std::filesystem::remove(destination);
  return seconds;
}

}  // namespace cwb::bench
