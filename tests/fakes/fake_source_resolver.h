// A SourceResolver answering from a map the test owns and changes: (repo_url, ref) -> commit.
// Unknown sources are Unavailable, as an unreachable repository would be. Counts its calls.
#pragma once

#include <atomic>
#include <map>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "coordinator/source_resolver.h"

namespace cwb::testing {

class FakeSourceResolver final : public SourceResolver {
 public:
  using Commits = std::map<std::pair<std::string, std::string>, std::string>;
  explicit FakeSourceResolver(const Commits* commits) : commits_(commits) {}

  absl::StatusOr<std::string> Resolve(const std::string& repo_url, const std::string& ref) override {
    ++calls_;
    auto it = commits_->find({repo_url, ref});
    if (it == commits_->end()) return absl::UnavailableError(absl::StrCat("cannot reach ", repo_url));
    return it->second;
  }
  int calls() const { return calls_; }

 private:
  const Commits* commits_;
  std::atomic<int> calls_{0};
};

}  // namespace cwb::testing
