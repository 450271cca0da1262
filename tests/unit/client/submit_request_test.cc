// What `cwb submit` sends: the plan made on the client, with relative repository paths resolved
// here, and local repositories refused when the coordinator is on another machine. Nothing is
// sent anywhere: MakeSubmitRequest only plans.
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "client/remote_commands.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/temp_dir.h"

namespace cwb {
namespace {

std::ostringstream warnings_;  // none of these configs warns

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class SubmitRequestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::FreshTestDir("submit");
  }
  std::string Config(const std::string& repo_url) {
    const fs::path path = dir_ / "c.yaml";
    std::ofstream(path) << "build_target: {python_version: 3.11, cuda_version: cpu, pytorch_version: 2.4.0}\n"
                        << "projects:\n  - name: demo\n    repo_url: " << repo_url << "\n"
                        << "pytorch_base_images: {\"2.4.0\": {cpu: base:1}}\n";
    return path.string();
  }
  RemoteOptions At(const std::string& coordinator) {
    RemoteOptions options;
    options.connection.coordinator = coordinator;
    return options;
  }
  fs::path dir_;
};

TEST_F(SubmitRequestTest, ARelativePathIsResolvedAgainstTheConfigsDirectoryForALocalCoordinator) {
  absl::StatusOr<v1::SubmitBuildRequest> request = MakeSubmitRequest(Config("./repos/demo"), At("127.0.0.1:7600"), warnings_);
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->plan().tasks(0).source().repo_url(), (dir_ / "repos/demo").string());
  EXPECT_TRUE(request->plan().config_path().empty());
  EXPECT_TRUE(request->plan().output_dir().empty());
  ASSERT_EQ(request->dockerfiles_size(), 1);
  EXPECT_TRUE(request->plan().tasks(0).image().dockerfile().empty());
  EXPECT_EQ(request->plan().tasks(0).image().content_hash(), request->dockerfiles(0).content_hash());
  EXPECT_TRUE(MakeSubmitRequest(Config("/srv/git/demo"), At("[::1]:7600"), warnings_).ok());
  EXPECT_TRUE(MakeSubmitRequest(Config("file:///srv/git/demo"), At("localhost:7600"), warnings_).ok());
}

TEST_F(SubmitRequestTest, ALocalRepositoryIsRefusedWhenTheCoordinatorIsElsewhere) {
  for (const std::string& url : {std::string("./repos/demo"), std::string("/srv/git/demo"), std::string("file:///srv/git/demo")}) {
    absl::StatusOr<v1::SubmitBuildRequest> request = MakeSubmitRequest(Config(url), At("build-farm:7600"), warnings_);
    ASSERT_FALSE(request.ok()) << url;
    EXPECT_THAT(std::string(request.status().message()), HasSubstr("c.yaml:3:5: projects[0].repo_url: "));
    EXPECT_THAT(std::string(request.status().message()),
                HasSubstr("is on this machine, and the coordinator at build-farm:7600 is not"));
  }
  EXPECT_TRUE(MakeSubmitRequest(Config("https://example.com/demo.git"), At("build-farm:7600"), warnings_).ok());
}

}  // namespace
}  // namespace cwb
