// The client's config file (~/.config/cwb/config.yaml): what it fills in, and that a broken one is
// an error naming its place rather than being ignored.
#include <filesystem>
#include <fstream>

#include "client/connection.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cwb {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class ClientConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           ("client_config_" + std::to_string(::getpid()) + "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  absl::Status Apply(const std::string& text, ConnectionSettings& settings) {
    std::ofstream(dir_ / "config.yaml") << text;
    return ApplyClientConfigFile(dir_ / "config.yaml", settings);
  }
  fs::path dir_;
};

TEST_F(ClientConfigTest, FillsOnlyWhatTheFlagsLeftEmpty) {
  std::ofstream(dir_ / "token") << "from-file\n";
  ConnectionSettings settings;
  settings.tls.ca_file = "flag-ca.pem";
  ASSERT_TRUE(Apply("coordinator: farm:7600\ntoken_file: " + (dir_ / "token").string() + "\ntls_ca: file-ca.pem\n",
                    settings)
                  .ok());
  EXPECT_EQ(settings.coordinator, "farm:7600");
  EXPECT_EQ(settings.token, "from-file");
  EXPECT_EQ(settings.tls.ca_file, "flag-ca.pem");
  ConnectionSettings empty;
  EXPECT_TRUE(Apply("", empty).ok());  // an empty file is fine
}

TEST_F(ClientConfigTest, ABrokenConfigIsAnErrorNamingItsPlace) {
  const std::string file = (dir_ / "config.yaml").string();
  ConnectionSettings settings;
  absl::Status yaml = Apply("coordinator: farm:7600\ntoken: [unclosed\n", settings);
  EXPECT_EQ(yaml.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(yaml.message(), HasSubstr(file + ":3:1: the client config is not valid YAML"));
  absl::Status typo = Apply("coordinator: farm:7600\ntokenfile: /etc/cwb/token\n", settings);
  EXPECT_THAT(typo.message(), HasSubstr(file + ":2:1: unknown key 'tokenfile' (did you mean 'token_file'?)"));
  EXPECT_THAT(Apply("- coordinator\n", settings).message(), HasSubstr("must be a mapping"));
  EXPECT_THAT(Apply("coordinator:\n", settings).message(), HasSubstr(file + ":1:1: coordinator: expected a non-empty value"));
  EXPECT_THAT(Apply("token_file: /nonexistent/token\n", settings).message(), HasSubstr(file + ": token_file: "));
  EXPECT_THAT(Apply(std::string(70 << 10, '#'), settings).message(), HasSubstr("more than 65536"));
}

}  // namespace
}  // namespace cwb
