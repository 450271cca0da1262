// The ELF members of a wheel (extension modules, bundled libraries), extracted at their paths in
// the archive for the release gate (cwb-audit). The archive is untrusted: member names that would
// leave the directory (absolute, "..") are refused, and what is extracted is bounded.
#pragma once

#include <cstdint>
#include <filesystem>

#include "absl/status/statusor.h"

namespace cwb {

struct ExtractLimits {
  uint64_t max_total_bytes = uint64_t{32} << 30;  // of ELF members, uncompressed
  uint64_t max_entries = 200000;
};

// Extracts every member of `wheel` that starts with the ELF magic into `dir` (created), keeping
// its path and its executable bit; returns how many. InvalidArgument naming the member for a name
// that leaves `dir` or a wheel over the limits.
absl::StatusOr<int> ExtractElfMembers(const std::filesystem::path& wheel, const std::filesystem::path& dir,
                                      const ExtractLimits& limits = {});

}  // namespace cwb
