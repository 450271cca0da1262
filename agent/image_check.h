// Does the image give the cell what it asks? The image's Dockerfile records what its base gives
// the build (/usr/local/share/cwb/base-image-facts: the interpreter the build will use and its
// torch, before cwb changes anything); the host runtime's facts are its Python's. Before a build
// the agent compares them with the cell: another Python, another torch, or a torch of another
// CUDA fails the task naming both values. An image without torch (the build brings its own, or
// needs none) passes, and the log says so.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "cwb/v1/task.pb.h"

namespace cwb {

// Where the rendered Dockerfile writes the facts inside the image.
inline constexpr char kBaseImageFactsPath[] = "/usr/local/share/cwb/base-image-facts";

struct ImageFacts {
  std::string python;      // "3.11.2"; empty: no Python
  std::string executable;  // "/usr/bin/python3.11"
  std::string torch;       // torch.__version__ ("2.4.0+cu121"); empty: no torch
  std::string torch_cuda;  // torch.version.cuda ("12.1"); empty: a CPU torch
  std::string torch_error; // "ImportError: ..." where torch is there but does not import
};

// Parses "key=value" lines (python, executable, torch, torch_cuda, torch_error); unknown keys are
// ignored (newer images may say more). InvalidArgument without a python line.
absl::StatusOr<ImageFacts> ParseImageFacts(std::string_view text);

// OK with what the image gives, for the log ("Python 3.11.2 (/usr/bin/python3.11), torch 2.4.0+cu121
// for CUDA 12.1"; or "..., no torch: the build brings what it needs"); FailedPrecondition naming
// the image's value and the cell's where they differ. Versions match on the components the cell
// gives: python 3.11 is 3.11.x, torch 2.4 is 2.4.x and 2.4.0 is 2.4.0 (a local label such as
// +cu121 aside); CUDA 12.1 is torch's 12.1, and cpu a torch without CUDA.
absl::StatusOr<std::string> CheckImageAgainstCell(const ImageFacts& facts, const v1::TaskSpec& spec);

}  // namespace cwb
