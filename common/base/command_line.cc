#include "common/base/command_line.h"

#include <signal.h>

#include <thread>

#include "absl/synchronization/mutex.h"

namespace cwb {

void ConfigureProcess() { absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore); }

void CancelOnSignals(Cancellation& cancel) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::thread([set, &cancel] {
    int signal = 0;
    sigwait(&set, &signal);
    cancel.Cancel(signal == SIGINT ? "interrupted (SIGINT)" : "terminated (SIGTERM)");
  }).detach();
}

}  // namespace cwb
