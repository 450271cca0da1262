#include "agent/host_resources.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
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

int DefaultMaxJobs(const HostResources& host, uint64_t memory_per_job_bytes) {
  int jobs = std::max(1, host.cpu_cores);
  if (host.memory_bytes > 0 && memory_per_job_bytes > 0) {
    jobs = std::min<int>(jobs, static_cast<int>(host.memory_bytes / memory_per_job_bytes));
  }
  return std::max(1, jobs);
}

}  // namespace cwb
