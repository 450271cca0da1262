#include "coordinator/refusal_log.h"

#include "absl/strings/str_cat.h"
#include "common/web/server_log.h"

namespace cwb {

void RefusalLog::Refused(std::string_view method, const absl::Status& why) {
  std::lock_guard lock(mutex_);
  std::string key(method.substr(0, 200));
  if (!methods_.count(key) && methods_.size() >= kMaxMethods) key = "(other methods)";
  const Clock::SteadyTime now = clock_.SteadyNow();
  auto [it, first] = methods_.try_emplace(key);
  Method& entry = it->second;
  if (!first && now - entry.last_logged < quiet_) {
    ++entry.left_out;
    return;
  }
  std::string line = absl::StrCat("refused a call to ", key, ": ", why.message());
  if (entry.left_out > 0) absl::StrAppend(&line, " (and ", entry.left_out, " more since the last such line)");
  entry.last_logged = now;
  entry.left_out = 0;
  LogEvent(out_, "warning", line, {{"method", key}, {"code", absl::StatusCodeToString(why.code())}});
}

}  // namespace cwb
