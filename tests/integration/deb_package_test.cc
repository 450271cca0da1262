// The Debian packages: scripts/make-debs.sh makes cwb, cwb-agent and cwb-coordinator from the
// built programs, and tests/packaging/deb-in-container.sh installs them in a fresh Debian bookworm
// container (podman; their library dependencies come from the mirror), builds the quickstart's
// config there with `cwb build --runtime host` and starts the coordinator unit's command as its
// user.
#include <filesystem>
#include <regex>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/child_process.h"
#include "tests/integration/test_env.h"

namespace cwb {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using namespace cwb::testing;

TEST(DebPackageTest, InstallsInAFreshBookwormContainerBuildsAndStartsTheCoordinatorUnit) {
  if (!PodmanReady()) GTEST_SKIP() << "podman or the base image is not available";
  const fs::path dir = TestDir("debs");
  const std::string made = MustRun({(fs::path(CWB_SOURCE_DIR) / "scripts/make-debs.sh").string(), dir.string()},
                                   {{"CWB_BUILD_DIR", CWB_BUILD_DIR}});
  for (const char* package : {"cwb_", "cwb-agent_", "cwb-coordinator_", "cwb-audit_"}) {
    EXPECT_TRUE(std::regex_search(made, std::regex(absl::StrCat("/", package, "[0-9.]+_[a-z0-9]+\\.deb"))))
        << package << " missing from:\n" << made;
  }
  // Each package holds what it should, and only that.
  const std::string coordinator = MustRun({"sh", "-c", absl::StrCat("dpkg-deb -c ", dir.string(), "/cwb-coordinator_*.deb")});
  EXPECT_THAT(coordinator, HasSubstr("./usr/bin/cwb-coordinator"));
  EXPECT_THAT(coordinator, HasSubstr("./usr/sbin/cwb-coordinator-setup"));
  EXPECT_THAT(coordinator, HasSubstr("./usr/lib/systemd/system/cwb-coordinator.service"));
  EXPECT_THAT(coordinator, ::testing::Not(HasSubstr("cwb-agent")));
  const std::string depends = MustRun({"sh", "-c", absl::StrCat("dpkg-deb -f ", dir.string(), "/cwb-coordinator_*.deb Depends")});
  EXPECT_THAT(depends, HasSubstr("libgrpc++"));  // from dpkg-shlibdeps
  EXPECT_THAT(depends, HasSubstr("openssl"));

  ChildProcess run({"podman", "run", "--rm", "--network", "host", "-v", absl::StrCat(dir.string(), ":/debs:ro"), "-v",
                    absl::StrCat(CWB_SOURCE_DIR, ":/src:ro"), kBaseImage, "bash",
                    "/src/tests/packaging/deb-in-container.sh"});
  const int exit = run.Wait(std::chrono::seconds(900));
  const std::string output = run.Output();
  EXPECT_EQ(exit, 0) << output;
  EXPECT_THAT(output, HasSubstr("deb-test: ok"));
  EXPECT_THAT(output, HasSubstr("cwb_demo-0.1.0+cputorch2.4-cp311-cp311-linux_x86_64.whl"));
  EXPECT_THAT(output, HasSubstr("cwb-coordinator listening on"));
}

}  // namespace
}  // namespace cwb
