// Which commit a project's source ref names now, asked of the repository without cloning it
// (`git ls-remote`). The coordinator asks once per repository and ref when a build is submitted,
// so an unchanged matrix whose sources resolve to the same commits reuses earlier results.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/process/process_runner.h"

namespace cwb {

class SourceResolver {
 public:
  virtual ~SourceResolver() = default;
  // The full commit id `ref` names in `repo_url` (empty ref: the default branch). A tag names the
  // commit it points to; tags win over branches of the same name, as in a checkout. Thread-safe.
  virtual absl::StatusOr<std::string> Resolve(const std::string& repo_url, const std::string& ref) = 0;
};

// Resolves through `git ls-remote`, giving up after `timeout`. A ref that is already a full
// commit id is returned as it is, without asking.
std::unique_ptr<SourceResolver> MakeGitSourceResolver(ProcessRunner& runner,
                                                      std::chrono::milliseconds timeout);

}  // namespace cwb
