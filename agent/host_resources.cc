#include "agent/host_resources.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace cwb {

absl::StatusOr<uint64_t> ParseMemTotal(std::string_view meminfo) {
  for (absl::string_view line : absl::StrSplit(absl::string_view(meminfo.data(), meminfo.size()), '\n')) {
    if (!absl::ConsumePrefix(&line, "MemTotal:")) continue;
    line = absl::StripAsciiWhitespace(line);
    absl::ConsumeSuffix(&line, "kB");
    line = absl::StripAsciiWhitespace(line);
    uint64_t kib = 0;
    if (!absl::SimpleAtoi(line, &kib)) break;
    return kib * 1024;
  }
  return absl::InvalidArgumentError("no MemTotal line in /proc/meminfo");
}

HostResources ProbeHostResources() {
  HostResources host;
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    host.cpu_cores = std::max(1, CPU_COUNT(&set));
  } else {
    host.cpu_cores = std::max(1L, sysconf(_SC_NPROCESSORS_ONLN));
  }
  std::ifstream in("/proc/meminfo");
  std::stringstream text;
  text << in.rdbuf();
  host.memory_bytes = ParseMemTotal(text.str()).value_or(0);
  return host;
}

absl::StatusOr<uint64_t> ParseByteSize(std::string_view text) {
  absl::string_view rest = absl::StripAsciiWhitespace(absl::string_view(text.data(), text.size()));
  size_t digits = 0;
  while (digits < rest.size() && (absl::ascii_isdigit(rest[digits]) || rest[digits] == '.')) ++digits;
  double number = 0;
  if (digits == 0 || !absl::SimpleAtod(rest.substr(0, digits), &number) || number < 0) {
    return absl::InvalidArgumentError(absl::StrCat("'", rest, "' is not a size (e.g. 512M, 64G)"));
  }
  std::string unit = absl::AsciiStrToUpper(absl::StripAsciiWhitespace(rest.substr(digits)));
  if (absl::EndsWith(unit, "IB")) unit.resize(unit.size() - 2);
  else if (unit.size() == 2 && unit.back() == 'B') unit.pop_back();
  static constexpr std::pair<const char*, int> kUnits[] = {{"", 0}, {"B", 0}, {"K", 1}, {"M", 2}, {"G", 3}, {"T", 4}};
  for (const auto& [name, power] : kUnits) {
    if (unit != name) continue;
    const double bytes = number * static_cast<double>(1ull << (10 * power));
    if (bytes >= 1.8e19) return absl::InvalidArgumentError(absl::StrCat("'", rest, "' is too large"));
    return static_cast<uint64_t>(bytes);
  }
  return absl::InvalidArgumentError(absl::StrCat("'", rest, "': unknown unit (use K, M, G or T)"));
}

absl::StatusOr<HostResources> LimitHostResources(HostResources probed, const HostLimits& limits) {
  if (limits.cores != 0) {
    if (limits.cores < 1 || limits.cores > probed.cpu_cores) {
      return absl::InvalidArgumentError(absl::StrCat("--cores ", limits.cores, ": this host lets builds use 1 to ",
                                                     probed.cpu_cores, " cores"));
    }
    probed.cpu_cores = limits.cores;
  }
  if (!limits.memory.empty()) {
    absl::StatusOr<uint64_t> bytes = ParseByteSize(limits.memory);
    if (!bytes.ok()) return absl::InvalidArgumentError(absl::StrCat("--memory ", bytes.status().message()));
    constexpr uint64_t kLeast = 64ull << 20;
    if (*bytes < kLeast || (probed.memory_bytes > 0 && *bytes > probed.memory_bytes)) {
      return absl::InvalidArgumentError(absl::StrCat("--memory ", limits.memory, ": this host has ",
                                                     probed.memory_bytes >> 20, " MiB; give 64 MiB to all of it"));
    }
    probed.memory_bytes = *bytes;
  }
  return probed;
}

int DefaultMaxJobs(const HostResources& host, uint64_t memory_per_job_bytes) {
  return static_cast<int>(
      CompileJobsThatFit(static_cast<uint64_t>(std::max(0, host.cpu_cores)), host.memory_bytes, memory_per_job_bytes));
}

}  // namespace cwb
