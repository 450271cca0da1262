// The result cache's source resolver against real git repositories made by the test.
#include "coordinator/source_resolver.h"

#include "common/process/boost_process_runner.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/test_env.h"

namespace cwb {
namespace {

using testing::Git;

TEST(GitSourceResolverTest, ResolvesBranchesTagsAndTheDefaultBranchLikeACheckout) {
  const std::filesystem::path repo = testing::TestDir("resolver") / "repo";
  std::filesystem::create_directories(repo);
  Git(repo, {"init", "-q", "-b", "main"});
  Git(repo, {"commit", "-q", "--allow-empty", "-m", "first"});
  const std::string first = Git(repo, {"rev-parse", "HEAD"}).substr(0, 40);
  Git(repo, {"tag", "-a", "v1", "-m", "annotated"});
  Git(repo, {"branch", "release"});
  Git(repo, {"commit", "-q", "--allow-empty", "-m", "second"});
  const std::string second = Git(repo, {"rev-parse", "HEAD"}).substr(0, 40);
  Git(repo, {"tag", "same"});              // a tag and a branch of one name: the tag wins
  Git(repo, {"branch", "same", first});

  BoostProcessRunner runner;
  std::unique_ptr<SourceResolver> resolver = MakeGitSourceResolver(runner, std::chrono::seconds(30));
  EXPECT_EQ(resolver->Resolve(repo.string(), "").value(), second);         // the default branch
  EXPECT_EQ(resolver->Resolve(repo.string(), "main").value(), second);
  EXPECT_EQ(resolver->Resolve(repo.string(), "release").value(), first);
  EXPECT_EQ(resolver->Resolve(repo.string(), "v1").value(), first);        // peeled to its commit
  EXPECT_EQ(resolver->Resolve(repo.string(), "same").value(), second);
  EXPECT_EQ(resolver->Resolve("file://" + repo.string(), "v1").value(), first);
  EXPECT_EQ(resolver->Resolve(repo.string(), first).value(), first);       // a commit id: no git
  EXPECT_TRUE(absl::IsNotFound(resolver->Resolve(repo.string(), "nope").status()));
  EXPECT_FALSE(resolver->Resolve((repo.parent_path() / "missing").string(), "main").ok());
}

}  // namespace
}  // namespace cwb
