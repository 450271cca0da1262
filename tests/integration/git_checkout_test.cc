// CheckoutSource against real git repositories made by the test: tags, non-default branches,
// commit ids, the default branch, submodules, and refs that do not exist.
#include "agent/git_checkout.h"

#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/test_env.h"

namespace cwb {
namespace {

namespace fs = std::filesystem;
using namespace cwb::testing;

class GitCheckoutTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TestDir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    repo_ = MakeDemoRepository(dir_);
    Git(repo_, {"checkout", "-q", "-b", "release/0.2", "v0.1.0"});
    MustRun({"sh", "-c", "echo release > RELEASE"}, {}, repo_);
    Git(repo_, {"add", "RELEASE"});
    Git(repo_, {"commit", "-q", "-m", "release branch"});
    Git(repo_, {"checkout", "-q", "main"});
  }

  absl::StatusOr<CheckoutResult> Checkout(const std::string& ref, const std::string& name) {
    BoostProcessRunner runner;
    return CheckoutSource(runner, {repo_.string(), ref, dir_ / name}, [](std::string_view) {}, nullptr);
  }

  fs::path dir_, repo_;
};

TEST_F(GitCheckoutTest, TagBranchCommitAndDefault) {
  absl::StatusOr<CheckoutResult> tag = Checkout("v0.1.0", "tag");
  ASSERT_TRUE(tag.ok()) << tag.status();
  EXPECT_EQ(tag->commit, Git(repo_, {"rev-parse", "v0.1.0^{commit}"}));
  EXPECT_TRUE(fs::exists(dir_ / "tag" / "vendor" / "data.txt"));  // submodule checked out

  absl::StatusOr<CheckoutResult> branch = Checkout("release/0.2", "branch");
  ASSERT_TRUE(branch.ok()) << branch.status();
  EXPECT_EQ(branch->commit, Git(repo_, {"rev-parse", "release/0.2"}));
  EXPECT_TRUE(fs::exists(dir_ / "branch" / "RELEASE"));

  const std::string commit = Git(repo_, {"rev-parse", "main~1"});
  absl::StatusOr<CheckoutResult> by_commit = Checkout(commit, "commit");
  ASSERT_TRUE(by_commit.ok()) << by_commit.status();
  EXPECT_EQ(by_commit->commit, commit);

  absl::StatusOr<CheckoutResult> head = Checkout("", "default");
  ASSERT_TRUE(head.ok()) << head.status();
  EXPECT_EQ(head->commit, Git(repo_, {"rev-parse", "main"}));
}

TEST_F(GitCheckoutTest, UnknownRefIsNotFound) {
  absl::StatusOr<CheckoutResult> missing = Checkout("v9.9.9", "missing");
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(absl::IsNotFound(missing.status()));
  EXPECT_THAT(std::string(missing.status().message()),
              ::testing::HasSubstr("repo_ref 'v9.9.9' is not a branch, tag or commit"));
}

TEST_F(GitCheckoutTest, UnreachableRepositoryFailsCleanly) {
  BoostProcessRunner runner;
  absl::StatusOr<CheckoutResult> result = CheckoutSource(
      runner, {(dir_ / "no-such-repo").string(), "", dir_ / "x"}, [](std::string_view) {}, nullptr);
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(std::string(result.status().message()), ::testing::HasSubstr("git clone failed"));
}

}  // namespace
}  // namespace cwb
