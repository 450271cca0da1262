#include "bench/coordinator_process.h"

#include <unistd.h>

#include <fstream>
#include <sstream>

namespace cwb::bench {

CoordinatorProcess::CoordinatorProcess(const std::string& binary, const std::filesystem::path& data_dir,
                                       const std::vector<std::string>& extra) {
  std::vector<std::string> argv = {binary, "--listen", "127.0.0.1:0", "--data-dir", data_dir.string()};
  argv.insert(argv.end(), extra.begin(), extra.end());
  child_ = std::make_unique<testing::ChildProcess>(argv);
  address_ = child_->WaitForLine("listening on (\\S+)", std::chrono::seconds(60));
}

uint64_t CoordinatorProcess::ResidentBytes() const { return ProcStatusBytes(child_->pid(), "VmRSS:"); }

uint64_t CoordinatorProcess::PeakResidentBytes() const { return ProcStatusBytes(child_->pid(), "VmHWM:"); }

double CoordinatorProcess::CpuSeconds() const { return ProcCpuSeconds(child_->pid()); }

void CoordinatorProcess::Stop() {
  child_->Signal(SIGTERM);
  child_->Wait(std::chrono::seconds(30));
}

uint64_t ProcStatusBytes(int pid, const std::string& key) {
  std::ifstream status("/proc/" + (pid == 0 ? std::string("self") : std::to_string(pid)) + "/status");
  std::string word;
  uint64_t kib = 0;
  while (status >> word) {
    if (word == key && status >> kib) return kib * 1024;
  }
  return 0;
}

double ProcCpuSeconds(int pid) {
  std::ifstream stat("/proc/" + (pid == 0 ? std::string("self") : std::to_string(pid)) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  // Fields after the command (which may hold spaces) start after the last ')'.
  std::istringstream rest(text.substr(text.rfind(')') + 2));
  std::string field;
  double utime = 0, stime = 0;
  for (int i = 3; rest >> field; ++i) {
    if (i == 14) utime = std::stod(field);
    if (i == 15) {
      stime = std::stod(field);
      break;
    }
  }
  return (utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

}  // namespace cwb::bench
