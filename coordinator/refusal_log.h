// RefusalLog: says on the coordinator's log which calls the access policy refused (a wrong or
// missing token, a role that does not reach), so an agent or client with the wrong token is seen
// from the server's side too, without letting a flood of refusals flood the log: at most one line
// per method per `quiet`, the next line counting those left out in between. Methods are what the
// caller sent, so only the first kMaxMethods distinct ones get their own line; the rest share
// one. Thread-safe (called on gRPC's threads).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <ostream>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "common/base/clock.h"

namespace cwb {

class RefusalLog {
 public:
  static constexpr size_t kMaxMethods = 64;

  RefusalLog(std::ostream& out, Clock& clock, std::chrono::seconds quiet = std::chrono::seconds(10))
      : out_(out), clock_(clock), quiet_(quiet) {}

  void Refused(std::string_view method, const absl::Status& why);

 private:
  struct Method {
    Clock::SteadyTime last_logged;
    uint64_t left_out = 0;
  };
  std::mutex mutex_;
  std::ostream& out_;
  Clock& clock_;
  const std::chrono::seconds quiet_;
  std::map<std::string, Method> methods_;
};

}  // namespace cwb
