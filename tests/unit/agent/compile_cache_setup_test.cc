// The agent's side of the compile cache: a build's settings from the attempt's access, and what
// ccache's stats log says the cache did.
#include "agent/compile_cache_setup.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cwb {
namespace {

using ::testing::Contains;
using ::testing::Pair;

v1::CompileCacheAccess HttpAccess() {
  v1::CompileCacheAccess access;
  access.set_backend("http");
  access.set_host("10.0.0.5");
  access.set_port(7601);
  access.set_user("att-1");
  access.set_password("s3cret");
  access.set_domain_key("domainkey");
  return access;
}

TEST(CompileCacheSetupTest, ABuildGetsTheSharedStoreAsASecretAndTheDomainKeyAsAFile) {
  v1::TaskSpec spec;
  const CompileCacheEnv env = CompileCacheEnvFor(spec, HttpAccess(), "", "/cwb/ctl/key", "/cwb/out/stats");
  EXPECT_THAT(env.env, Contains(Pair("CWB_COMPILE_CACHE", "1")));
  EXPECT_THAT(env.env, Contains(Pair("CCACHE_NOHASHDIR", "1")));
  EXPECT_THAT(env.env, Contains(Pair("CCACHE_STATSLOG", "/cwb/out/stats")));
  EXPECT_THAT(env.env, Contains(Pair("CCACHE_EXTRAFILES", "/cwb/ctl/key")));
  EXPECT_THAT(env.secret_env,
              Contains(Pair("CCACHE_REMOTE_STORAGE", "http://att-1:s3cret@10.0.0.5:7601/cache|layout=flat")));
  EXPECT_THAT(env.secrets, Contains("s3cret"));
  EXPECT_EQ(env.domain_key, "domainkey");
  EXPECT_EQ(env.backend, "http");
  EXPECT_EQ(env.description.find("s3cret"), std::string::npos);

  v1::CompileCacheAccess redis = HttpAccess();
  redis.set_backend("redis");
  redis.set_port(6379);
  redis.set_user("cwb-att-1");
  EXPECT_EQ(RemoteStorageUrl(redis), "redis://cwb-att-1:s3cret@10.0.0.5:6379");
  EXPECT_EQ(RemoteStorageUrl(v1::CompileCacheAccess()), "");
}

TEST(CompileCacheSetupTest, WithoutAStoreOrWithTheCacheOffTheBuildSaysSo) {
  v1::TaskSpec spec;
  const CompileCacheEnv failed = CompileCacheEnvFor(spec, HttpAccess(), "the coordinator is gone", "k", "s");
  EXPECT_TRUE(failed.secret_env.empty());
  EXPECT_EQ(failed.description, "compile cache: this agent's directory only (no shared store: the coordinator is gone)");
  const CompileCacheEnv local = CompileCacheEnvFor(spec, v1::CompileCacheAccess(), "", "k", "s");
  EXPECT_TRUE(local.secret_env.empty());
  EXPECT_THAT(local.env, Contains(Pair("CWB_COMPILE_CACHE", "1")));
  spec.set_no_compile_cache(true);
  const CompileCacheEnv off = CompileCacheEnvFor(spec, HttpAccess(), "", "k", "s");
  EXPECT_THAT(off.env, ::testing::ElementsAre(Pair("CWB_COMPILE_CACHE", "0")));
  EXPECT_TRUE(off.secret_env.empty());
  EXPECT_EQ(off.description, "compile cache: off (compile_cache: false)");
}

TEST(CompileCacheSetupTest, TheStatsLogCountsHitsMissesAndUncacheableCallsByReason) {
  // As ccache 4.7 writes it: a "# <input>" line, then the counters of that call.
  const v1::CompileCacheStats stats = ParseCcacheStatsLog(
      "# /cwb/src/csrc/a.cpp\ndirect_cache_hit\nlocal_storage_read_miss\nremote_storage_read_hit\n"
      "remote_storage_hit\nlocal_storage_write\n"
      "# /cwb/src/csrc/b.cpp\npreprocessed_cache_hit\nlocal_storage_read_hit\nlocal_storage_hit\n"
      "# /cwb/src/csrc/c.cu\ncache_miss\ndirect_cache_miss\npreprocessed_cache_miss\nlocal_storage_miss\n"
      "remote_storage_miss\nremote_storage_error\n"
      "# \ncalled_for_link\n# \ncalled_for_link\n# /tmp/x.c\nunsupported_compiler_option\nnot_a_counter\n");
  EXPECT_EQ(stats.hits(), 2u);
  EXPECT_EQ(stats.remote_hits(), 1u);
  EXPECT_EQ(stats.misses(), 1u);
  EXPECT_EQ(stats.uncacheable(), 3u);
  EXPECT_EQ(stats.errors(), 1u);
  EXPECT_THAT(stats.uncacheable_reasons(), Contains(Pair("called_for_link", 2u)));
  EXPECT_THAT(stats.uncacheable_reasons(), Contains(Pair("unsupported_compiler_option", 1u)));
  EXPECT_EQ(DescribeCompileCacheStats(stats),
            "compile cache: 2 hits (1 from the shared store), 1 misses, 3 uncacheable (called_for_link 2, "
            "unsupported_compiler_option 1), 1 errors; hit rate 67%");
  EXPECT_EQ(DescribeCompileCacheStats(ParseCcacheStatsLog("")),
            "compile cache: 0 hits (0 from the shared store), 0 misses, 0 uncacheable, 0 errors; hit rate 0%");
}

}  // namespace
}  // namespace cwb
