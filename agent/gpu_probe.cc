#include "agent/gpu_probe.h"

#include <regex>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace cwb {
namespace {

std::string Trim(absl::string_view s) { return std::string(absl::StripAsciiWhitespace(s)); }

}  // namespace

absl::StatusOr<GpuInventory> ParseGpuQuery(std::string_view csv) {
  GpuInventory inventory;
  for (absl::string_view line : absl::StrSplit(absl::string_view(csv.data(), csv.size()), '\n')) {
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    std::vector<std::string> fields;
    for (absl::string_view field : absl::StrSplit(line, ',')) fields.push_back(Trim(field));
    if (fields.size() < 5) {
      return absl::InvalidArgumentError(absl::StrCat("unexpected nvidia-smi line: ", std::string(line)));
    }
    GpuInfo gpu;
    uint64_t mib = 0;
    if (!absl::SimpleAtoi(fields[0], &gpu.index) || !absl::SimpleAtoi(fields[3], &mib)) {
      return absl::InvalidArgumentError(absl::StrCat("unexpected nvidia-smi line: ", std::string(line)));
    }
    gpu.uuid = fields[1];
    gpu.name = fields[2];
    gpu.memory_bytes = mib << 20;
    inventory.driver_version = fields[4];
    if (fields.size() > 5 && fields[5] != "[N/A]") gpu.compute_capability = fields[5];
    inventory.gpus.push_back(std::move(gpu));
  }
  return inventory;
}

std::string ParseDriverCudaVersion(std::string_view banner) {
  static const std::regex kCuda(R"(CUDA Version:\s*([0-9]+\.[0-9]+))");
  std::match_results<std::string_view::const_iterator> match;
  if (std::regex_search(banner.begin(), banner.end(), match, kCuda)) return match[1].str();
  return "";
}

absl::StatusOr<GpuInventory> ProbeGpus(ProcessRunner& runner, const std::string& nvidia_smi) {
  auto run_query = [&](const char* fields) {
    return RunAndCapture(runner, {{nvidia_smi, absl::StrCat("--query-gpu=", fields),
                                   "--format=csv,noheader,nounits"}});
  };
  absl::StatusOr<CapturedRun> query =
      run_query("index,uuid,name,memory.total,driver_version,compute_cap");
  // Drivers older than 510 do not know compute_cap.
  if (query.ok() && !query->exit.ok() && query->output.find("not a valid field") != std::string::npos) {
    query = run_query("index,uuid,name,memory.total,driver_version");
  }
  if (!query.ok()) {
    if (absl::IsNotFound(query.status())) return GpuInventory{};  // no driver installed
    return query.status();
  }
  if (!query->exit.ok()) {
    if (query->output.find("No devices were found") != std::string::npos) return GpuInventory{};
    return absl::UnavailableError(
        absl::StrCat("nvidia-smi failed (", query->exit.Describe(), "): ", query->output));
  }
  absl::StatusOr<GpuInventory> inventory = ParseGpuQuery(query->output);
  if (!inventory.ok() || inventory->gpus.empty()) return inventory;
  absl::StatusOr<CapturedRun> banner = RunAndCapture(runner, {{nvidia_smi}});
  if (banner.ok() && banner->exit.ok()) inventory->cuda_version = ParseDriverCudaVersion(banner->output);
  return inventory;
}

}  // namespace cwb
