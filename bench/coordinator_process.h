// The real cwb-coordinator binary, started as a child process so the benchmarks measure it alone:
// its address, and its memory and CPU time read from /proc.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "tests/integration/child_process.h"

namespace cwb::bench {

class CoordinatorProcess {
 public:
  // Starts `binary` on a loopback port with its state in `data_dir`; `extra` flags are appended.
  // address() is empty when it did not come up (Output() says why).
  CoordinatorProcess(const std::string& binary, const std::filesystem::path& data_dir,
                     const std::vector<std::string>& extra = {});

  const std::string& address() const { return address_; }
  std::string Output() { return child_->Output(); }
  int pid() { return child_->pid(); }
  uint64_t ResidentBytes() const;      // VmRSS now
  uint64_t PeakResidentBytes() const;  // VmHWM
  double CpuSeconds() const;           // user + system time so far
  // Stops it with SIGTERM and waits.
  void Stop();

 private:
  std::unique_ptr<testing::ChildProcess> child_;
  std::string address_;
};

// A field of /proc/<pid>/status in bytes ("VmRSS:"), 0 if absent.
uint64_t ProcStatusBytes(int pid, const std::string& key);
// User + system CPU seconds of a process (this one with pid 0).
double ProcCpuSeconds(int pid);

}  // namespace cwb::bench
