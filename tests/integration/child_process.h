// A real child process for integration tests: output collected by a reader thread, waits on
// lines or exit with a timeout (these wait for real programs; unit tests never do this).
#pragma once

#include <signal.h>

#include <boost/process.hpp>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_join.h"

namespace cwb::testing {

class ChildProcess {
 public:
  explicit ChildProcess(const std::vector<std::string>& argv) : argv_(argv) {
    namespace bp = boost::process;
    child_ = bp::child(bp::search_path(argv[0]).empty() ? boost::filesystem::path(argv[0])
                                                         : bp::search_path(argv[0]),
                       bp::args = std::vector<std::string>(argv.begin() + 1, argv.end()),
                       (bp::std_out & bp::std_err) > output_, bp::std_in < bp::null);
    reader_ = std::thread([this] {
      std::string line;
      while (std::getline(output_, line)) {
        std::lock_guard lock(mutex_);
        lines_.push_back(line);
        cv_.notify_all();
      }
      std::lock_guard lock(mutex_);
      eof_ = true;
      cv_.notify_all();
    });
  }
  ~ChildProcess() {
    if (child_.running()) ::kill(child_.id(), SIGKILL);
    std::error_code ignored;
    child_.wait(ignored);
    if (reader_.joinable()) reader_.join();
  }

  // The first line matching `pattern` (its first group if it has one), or "" after `timeout`.
  std::string WaitForLine(const std::string& pattern, std::chrono::seconds timeout) {
    const std::regex re(pattern);
    std::unique_lock lock(mutex_);
    std::string found;
    cv_.wait_for(lock, timeout, [&] {
      for (const std::string& line : lines_) {
        std::smatch match;
        if (std::regex_search(line, match, re)) {
          found = match.size() > 1 ? match[1].str() : match[0].str();
          return true;
        }
      }
      return eof_;
    });
    return found;
  }
  // Number of lines matching `pattern` so far.
  int CountLines(const std::string& pattern) {
    const std::regex re(pattern);
    std::lock_guard lock(mutex_);
    int n = 0;
    for (const std::string& line : lines_) n += std::regex_search(line, re);
    return n;
  }
  // Waits for exit; -1 on timeout (the process is then killed).
  int Wait(std::chrono::seconds timeout) {
    {
      std::unique_lock lock(mutex_);
      if (!cv_.wait_for(lock, timeout, [&] { return eof_; })) {
        lock.unlock();
        Signal(SIGKILL);
      }
    }
    std::error_code error;
    child_.wait(error);
    if (reader_.joinable()) reader_.join();
    return timed_out_ ? -1 : child_.exit_code();
  }
  void Signal(int signal) {
    if (signal == SIGKILL) timed_out_ = true;
    ::kill(child_.id(), signal);
  }
  int pid() { return static_cast<int>(child_.id()); }

  // Peak resident memory (VmHWM) in bytes, from /proc; 0 if unavailable.
  uint64_t PeakResidentBytes() {
    std::ifstream status("/proc/" + std::to_string(pid()) + "/status");
    std::string key;
    uint64_t kib = 0;
    while (status >> key) {
      if (key == "VmHWM:" && status >> kib) return kib * 1024;
    }
    return 0;
  }

  std::string Output() {
    std::lock_guard lock(mutex_);
    return absl::StrJoin(lines_, "\n");
  }

 private:
  std::vector<std::string> argv_;
  boost::process::ipstream output_;
  boost::process::child child_;
  std::thread reader_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<std::string> lines_;
  bool eof_ = false;
  bool timed_out_ = false;
};

}  // namespace cwb::testing
