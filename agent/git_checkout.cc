#include "agent/git_checkout.h"

#include "absl/strings/str_cat.h"
#include "common/base/cancellation.h"

namespace cwb {
namespace {

// Never prompt for credentials; a build must not hang waiting for input.
const std::vector<std::pair<std::string, std::string>> kGitEnv = {
    {"GIT_TERMINAL_PROMPT", "0"}, {"GIT_ASKPASS", "/bin/true"}, {"LC_ALL", "C"}};

absl::Status RunGit(ProcessRunner& runner, std::vector<std::string> argv,
                    const ProcessRunner::LineCallback& on_line, Cancellation* cancel,
                    const std::string& what) {
  ProcessSpec spec{std::move(argv), kGitEnv};
  absl::StatusOr<ProcessExit> exit = runner.Run(spec, on_line, cancel);
  if (!exit.ok()) return exit.status();
  if (exit->cancelled) return absl::CancelledError(absl::StrCat(what, " cancelled"));
  if (!exit->ok()) return absl::FailedPreconditionError(absl::StrCat(what, " failed (", exit->Describe(), ")"));
  return absl::OkStatus();
}

}  // namespace

bool IsLocalRepository(const std::string& repo_url) {
  return repo_url.starts_with("/") || repo_url.starts_with("file://");
}

absl::StatusOr<CheckoutResult> CheckoutSource(ProcessRunner& runner, const CheckoutRequest& request,
                                              const ProcessRunner::LineCallback& on_line,
                                              Cancellation* cancel) {
  const std::string dest = request.destination.string();
  // Submodules of a local superproject are usually local too; git refuses file:// submodules
  // unless told, so allow them exactly when the superproject itself is local.
  std::vector<std::string> git = {"git"};
  if (IsLocalRepository(request.repo_url)) {
    git.insert(git.end(), {"-c", "protocol.file.allow=always"});
  }
  auto with = [&](std::initializer_list<std::string> args) {
    std::vector<std::string> argv = git;
    argv.insert(argv.end(), args);
    return argv;
  };
  on_line(absl::StrCat("cwb: cloning ", request.repo_url));
  if (absl::Status s = RunGit(runner, with({"clone", "--no-checkout", "--", request.repo_url, dest}),
                              on_line, cancel, "git clone");
      !s.ok()) {
    return s;
  }

  // Resolve the ref: as given (tag, commit, or the default branch's local name), then as a
  // remote branch. The "--" keeps a ref from being read as an option.
  std::string commit;
  const std::string ref = request.repo_ref.empty() ? "HEAD" : request.repo_ref;
  for (const std::string& candidate : {ref, absl::StrCat("origin/", ref)}) {
    absl::StatusOr<CapturedRun> parsed = RunAndCapture(
        runner, {with({"-C", dest, "rev-parse", "--verify", "--quiet", "--end-of-options",
                       absl::StrCat(candidate, "^{commit}")}),
                 kGitEnv},
        cancel);
    if (!parsed.ok()) return parsed.status();
    if (parsed->exit.ok() && parsed->output.size() >= 40) {
      commit = parsed->output.substr(0, 40);
      break;
    }
  }
  if (commit.empty()) {
    return absl::NotFoundError(
        absl::StrCat("repo_ref '", request.repo_ref, "' is not a branch, tag or commit of ",
                     request.repo_url));
  }
  on_line(absl::StrCat("cwb: checking out ", request.repo_ref.empty() ? "the default branch" : ref,
                       " at ", commit));
  if (absl::Status s = RunGit(runner,
                              with({"-C", dest, "-c", "advice.detachedHead=false", "checkout",
                                    "--quiet", "--detach", commit}),
                              on_line, cancel, "git checkout");
      !s.ok()) {
    return s;
  }
  if (absl::Status s = RunGit(runner,
                              with({"-C", dest, "submodule", "update", "--init", "--recursive"}),
                              on_line, cancel, "git submodule update");
      !s.ok()) {
    return s;
  }
  return CheckoutResult{commit};
}

}  // namespace cwb
