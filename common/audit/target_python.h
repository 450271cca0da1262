// The Python a wheel will be imported by, and the torch it will be imported with: probed by
// running that Python (importing torch, as the user's import would) and reading which shared
// objects it then has mapped (/proc/self/maps). Those are the libraries a module's DT_NEEDED
// resolves to by SONAME before any search, the CUDA runtime that torch links included.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace cwb::audit {

struct TargetPython {
  std::filesystem::path executable;  // the interpreter's file (links resolved)
  std::string version;               // "3.11"
  std::string torch_version;         // "" when torch cannot be imported
  std::string torch_cuda;            // torch.version.cuda, "" for a CPU torch
  std::filesystem::path torch_dir;   // the torch package
  std::string torch_error;           // why `import torch` failed, when it did
  std::vector<std::filesystem::path> loaded;  // shared objects mapped after importing torch

  // "torch 1.13.1 (CPU) at /usr/lib/python3/dist-packages/torch, Python 3.11 (/usr/bin/python3.11)"
  std::string Describe() const;
};

// Runs `python` (a path or a name on PATH); nullopt with `error` set when it cannot be run or
// says nothing usable. Its output is bounded (4 MiB).
std::optional<TargetPython> ProbeTargetPython(const std::string& python, std::string* error);

// Parses the probe's output (exposed for tests).
std::optional<TargetPython> ParseTargetPythonProbe(const std::string& output, std::string* error);

}  // namespace cwb::audit
