#include "common/audit/target_python.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>

extern char** environ;

namespace cwb::audit {
namespace {

constexpr size_t kMaxProbeOutput = 4 << 20;

constexpr char kProbe[] = R"py(
import os, sys
print("executable=" + os.path.realpath(sys.executable))
print("version=%d.%d" % sys.version_info[:2])
try:
    import torch
    print("torch=" + torch.__version__)
    print("torch_cuda=" + (torch.version.cuda or ""))
    print("torch_dir=" + os.path.dirname(os.path.realpath(torch.__file__)))
except BaseException as e:
    print("torch_error=" + (type(e).__name__ + ": " + str(e)).replace("\n", " "))
seen = set()
with open("/proc/self/maps") as maps:
    for line in maps:
        fields = line.split(None, 5)
        if len(fields) == 6:
            path = fields[5].strip()
            if path.startswith("/") and ".so" in os.path.basename(path) and path not in seen:
                seen.add(path)
                print("loaded=" + path)
)py";

}  // namespace

std::string TargetPython::Describe() const {
  std::string text;
  if (!torch_version.empty()) {
    text = "torch " + torch_version + (torch_cuda.empty() ? " (CPU)" : " (CUDA " + torch_cuda + ")") + " at " +
           torch_dir.string() + ", ";
  } else {
    text = "no torch (" + (torch_error.empty() ? std::string("not importable") : torch_error) + "), ";
  }
  return text + "Python " + version + " (" + executable.string() + ")";
}

std::optional<TargetPython> ParseTargetPythonProbe(const std::string& output, std::string* error) {
  TargetPython target;
  std::set<std::string> seen;
  size_t start = 0;
  while (start < output.size()) {
    size_t end = output.find('\n', start);
    if (end == std::string::npos) end = output.size();
    const std::string line = output.substr(start, end - start);
    start = end + 1;
    const size_t equals = line.find('=');
    if (equals == std::string::npos) continue;
    const std::string key = line.substr(0, equals);
    const std::string value = line.substr(equals + 1);
    if (key == "executable") target.executable = value;
    if (key == "version") target.version = value;
    if (key == "torch") target.torch_version = value;
    if (key == "torch_cuda") target.torch_cuda = value;
    if (key == "torch_dir") target.torch_dir = value;
    if (key == "torch_error") target.torch_error = value;
    if (key == "loaded" && seen.insert(value).second) target.loaded.emplace_back(value);
  }
  if (target.executable.empty() || target.version.empty()) {
    *error = "the target Python printed no executable and version";
    return std::nullopt;
  }
  return target;
}

std::optional<TargetPython> ProbeTargetPython(const std::string& python, std::string* error) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    *error = std::string("pipe: ") + std::strerror(errno);
    return std::nullopt;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  std::string code = kProbe;
  std::string dash_c = "-c";
  std::string program = python;
  char* argv[] = {program.data(), dash_c.data(), code.data(), nullptr};
  pid_t pid = 0;
  const int spawned = ::posix_spawnp(&pid, python.c_str(), &actions, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipe_fds[1]);
  if (spawned != 0) {
    ::close(pipe_fds[0]);
    *error = "cannot run " + python + ": " + std::strerror(spawned);
    return std::nullopt;
  }
  std::string output;
  char buffer[65536];
  bool truncated = false;
  for (;;) {
    const ssize_t n = ::read(pipe_fds[0], buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (output.size() + static_cast<size_t>(n) > kMaxProbeOutput) {
      truncated = true;
      continue;  // drained, not kept
    }
    output.append(buffer, static_cast<size_t>(n));
  }
  ::close(pipe_fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    *error = python + " failed to report itself (status " + std::to_string(status) + ")";
    return std::nullopt;
  }
  if (truncated) {
    *error = python + " printed more than 4 MiB";
    return std::nullopt;
  }
  return ParseTargetPythonProbe(output, error);
}

}  // namespace cwb::audit
