#include "coordinator/source_resolver.h"

#include <map>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/base/cancellation.h"
#include "common/base/clock.h"

namespace cwb {
namespace {

bool IsFullCommit(const std::string& ref) {
  return ref.size() == 40 && std::all_of(ref.begin(), ref.end(), [](char c) { return absl::ascii_isxdigit(c); });
}

class GitSourceResolver final : public SourceResolver {
 public:
  GitSourceResolver(ProcessRunner& runner, std::chrono::milliseconds timeout)
      : runner_(runner), timeout_(timeout) {}

  absl::StatusOr<std::string> Resolve(const std::string& repo_url, const std::string& ref) override {
    if (IsFullCommit(ref)) return absl::AsciiStrToLower(ref);
    const std::string name = ref.empty() ? "HEAD" : ref;
    // Never prompt for credentials; give up after the timeout.
    ProcessSpec spec{{"git", "ls-remote", "--", repo_url, name, absl::StrCat(name, "^{}")},
                     {{"GIT_TERMINAL_PROMPT", "0"}, {"GIT_ASKPASS", "/bin/true"}, {"LC_ALL", "C"}}};
    spec.kill_grace = std::chrono::milliseconds(1000);
    Cancellation give_up, finished;
    std::thread timer([&] {
      if (SystemClock::Get().SleepUntil(SystemClock::Get().SteadyNow() + timeout_, &finished)) {
        give_up.Cancel("timed out");
      }
    });
    absl::StatusOr<CapturedRun> run = RunAndCapture(runner_, spec, &give_up);
    finished.Cancel("done");
    timer.join();
    if (!run.ok()) return run.status();
    if (run->exit.cancelled) {
      return absl::DeadlineExceededError(absl::StrCat("git ls-remote ", repo_url, " took longer than ",
                                                      timeout_.count(), " ms"));
    }
    if (!run->exit.ok()) {
      return absl::UnavailableError(absl::StrCat("git ls-remote ", repo_url, " failed (",
                                                 run->exit.Describe(), "): ", run->output));
    }
    std::map<std::string, std::string> refs;  // refname -> object id
    for (absl::string_view line : absl::StrSplit(run->output, '\n', absl::SkipEmpty())) {
      std::vector<std::string> fields = absl::StrSplit(line, '\t');
      if (fields.size() == 2 && IsFullCommit(fields[0])) refs[fields[1]] = fields[0];
    }
    // The order a checkout resolves a name in: a tag (peeled to its commit), a branch, the name.
    for (const std::string& candidate :
         {absl::StrCat("refs/tags/", name, "^{}"), absl::StrCat("refs/tags/", name),
          absl::StrCat("refs/heads/", name), absl::StrCat(name, "^{}"), name}) {
      if (auto it = refs.find(candidate); it != refs.end()) return it->second;
    }
    return absl::NotFoundError(absl::StrCat("repo_ref '", name, "' names no branch or tag of ", repo_url));
  }

 private:
  ProcessRunner& runner_;
  const std::chrono::milliseconds timeout_;
};

}  // namespace

std::unique_ptr<SourceResolver> MakeGitSourceResolver(ProcessRunner& runner,
                                                      std::chrono::milliseconds timeout) {
  return std::make_unique<GitSourceResolver>(runner, timeout);
}

}  // namespace cwb
