// Wheel filenames (PEP 427) and the wheelhouse layout every cwb output uses:
//   <output_dir>/wheelhouse/py<PYTHON without dots>/cuda<CUDA>/<platform tag>/<wheel>
// e.g. wheelhouse/py310/cuda11.8/linux_x86_64/flash_attn-2.6.3-cp310-cp310-linux_x86_64.whl
// (CPU-only variants: cudacpu).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace cwb {

struct WheelName {
  std::string distribution;  // "flash_attn"
  std::string version;       // "2.6.3" or "2.6.3+cu124torch2.5"
  std::string build;         // optional build tag, usually empty
  std::string python_tag;    // "cp312"
  std::string abi_tag;       // "cp312"
  std::string platform_tag;  // "linux_x86_64", "manylinux_2_17_x86_64.manylinux2014_x86_64"
};

// Parses a wheel's file name. Refuses anything that is not a plain, valid wheel filename (path
// separators, "..", NUL and other control characters included), so the result is safe to use as
// one path component.
absl::StatusOr<WheelName> ParseWheelFilename(std::string_view filename);
// The file name of `name` (ParseWheelFilename's inverse).
std::string WheelFilename(const WheelName& name);

// wheelhouse/py<python>/cuda<cuda>/<platform> relative to the output directory.
std::filesystem::path WheelhouseDir(const std::filesystem::path& output_dir,
                                    std::string_view python_version, std::string_view cuda_version,
                                    std::string_view platform_tag);

}  // namespace cwb
