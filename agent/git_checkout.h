// Checks a project's source out on the host (the container gets it as a mount, so images need no
// git and credentials stay on the host): clone, resolve repo_ref (branch, tag or commit; the
// default branch when empty), detach at that commit, and update submodules recursively.
#pragma once

#include <filesystem>
#include <string>

#include "absl/status/statusor.h"
#include "common/process/process_runner.h"

namespace cwb {

struct CheckoutRequest {
  std::string repo_url;
  std::string repo_ref;                 // empty: the remote's default branch
  std::filesystem::path destination;    // must not exist yet
};

struct CheckoutResult {
  std::string commit;  // the full commit id checked out
};

// Runs git through `runner`, each output line to `on_line`. `cancel` may be null.
absl::StatusOr<CheckoutResult> CheckoutSource(ProcessRunner& runner, const CheckoutRequest& request,
                                              const ProcessRunner::LineCallback& on_line,
                                              Cancellation* cancel);

// True for URLs git reads from the local file system (file://, absolute paths).
bool IsLocalRepository(const std::string& repo_url);

}  // namespace cwb
