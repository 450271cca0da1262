// CompileCacheService's HTTP store on loopback: a credential is an attempt's and serves only while
// the coordinator says that attempt is current, and only its trust domain's entries.
#include "coordinator/compile_cache_service.h"

#include <unistd.h>

#include <mutex>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/http_get.h"

namespace cwb {
namespace {

namespace fs = std::filesystem;

class CompileCacheServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) / ("cache_service_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    CompileCacheOptions options;
    options.listen = "127.0.0.1:0";
    options.max_bytes = 1 << 20;
    options.max_entry_bytes = 1000;
    absl::StatusOr<std::unique_ptr<CompileCacheService>> service = CompileCacheService::Start(
        options, dir_,
        [this](const std::string& attempt) -> std::optional<std::string> {
          std::lock_guard lock(mutex_);
          auto it = current_.find(attempt);
          if (it == current_.end()) return std::nullopt;
          return it->second;
        },
        metrics_);
    ASSERT_TRUE(service.ok()) << service.status();
    service_ = *std::move(service);
  }
  void TearDown() override {
    service_.reset();
    fs::remove_all(dir_);
  }

  void SetCurrent(const std::string& attempt, std::optional<std::string> domain) {
    std::lock_guard lock(mutex_);
    if (domain) {
      current_[attempt] = *domain;
    } else {
      current_.erase(attempt);
    }
  }
  // The Basic credential OpenCompileCache gives `attempt`.
  std::map<std::string, std::string> AuthOf(const std::string& attempt, const std::string& domain) {
    absl::StatusOr<v1::CompileCacheAccess> access = service_->Open(attempt, domain);
    EXPECT_TRUE(access.ok());
    EXPECT_EQ(access->backend(), "http");
    EXPECT_EQ(access->user(), attempt);
    EXPECT_EQ(access->domain_key(), service_->credentials().DomainKey(domain));
    return {{"Authorization", "Basic " + absl::Base64Escape(attempt + ":" + access->password())}};
  }

  fs::path dir_;
  MetricsRegistry metrics_;
  std::unique_ptr<CompileCacheService> service_;
  std::mutex mutex_;
  std::map<std::string, std::string> current_;  // attempt -> domain
};

TEST_F(CompileCacheServiceTest, ACredentialServesItsAttemptsDomainWhileTheAttemptIsCurrent) {
  const std::string address = service_->http_address();
  SetCurrent("att-1", "0123456789abcdef");
  SetCurrent("att-2", "fedcba9876543210");
  const auto alice = AuthOf("att-1", "0123456789abcdef");
  const auto bob = AuthOf("att-2", "fedcba9876543210");
  EXPECT_EQ(testing::HttpGet(address, "/cache/abcdef0123", alice).status, 404);
  EXPECT_EQ(testing::HttpPut(address, "/cache/abcdef0123", "object", alice).status, 201);
  testing::HttpAnswer got = testing::HttpGet(address, "/cache/abcdef0123", alice);
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(got.body, "object");
  EXPECT_EQ(testing::HttpGet(address, "/cache/abcdef0123", alice, "HEAD").status, 200);
  // Another domain's credential does not see it.
  EXPECT_EQ(testing::HttpGet(address, "/cache/abcdef0123", bob).status, 404);
  // No credential, a wrong password, another attempt's password: 401, nothing read or written.
  EXPECT_EQ(testing::HttpGet(address, "/cache/abcdef0123").status, 401);
  auto wrong = alice;
  wrong["Authorization"] = "Basic " + absl::Base64Escape("att-1:" + std::string(64, '0'));
  EXPECT_EQ(testing::HttpGet(address, "/cache/abcdef0123", wrong).status, 401);
  auto borrowed = bob;
  borrowed["Authorization"] = "Basic " + absl::Base64Escape(
      "att-2:" + service_->credentials().AttemptPassword("att-1"));
  EXPECT_EQ(testing::HttpPut(address, "/cache/abcdef0123", "forged", borrowed).status, 401);
  // Not a key, too large: refused before the body is read.
  EXPECT_EQ(testing::HttpPut(address, "/cache/../../x", "x", alice).status, 404);
  EXPECT_EQ(testing::HttpPut(address, "/cache/abcdef0124", std::string(1001, 'x'), alice).status, 413);
  // Once the attempt has ended, its credential opens nothing.
  SetCurrent("att-1", std::nullopt);
  testing::HttpAnswer ended = testing::HttpGet(address, "/cache/abcdef0123", alice);
  EXPECT_EQ(ended.status, 401);
  EXPECT_THAT(ended.body, ::testing::HasSubstr("is not current"));
  EXPECT_EQ(testing::HttpPut(address, "/cache/abcdef0125", "late", alice).status, 401);
  EXPECT_THAT(metrics_.Render(), ::testing::HasSubstr("cwb_compile_cache_store_entries 1"));
}

}  // namespace
}  // namespace cwb
