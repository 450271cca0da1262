#include "agent/failure_cause.h"

#include "gtest/gtest.h"

namespace cwb {
namespace {

// What setuptools prints around a compiler error: the error line is the cause, not the lines
// saying that gcc, the wheel and pip failed.
TEST(FailureCauseTest, TheCompilersErrorWinsOverTheLinesSayingThatEverythingFailed) {
  FailureCauseFinder finder;
  finder.Add("build", "building 'demo._ext' extension");
  finder.Add("build:err", "src/ext.cpp:1:10: fatal error: torch/extension.h: No such file or directory");
  finder.Add("build:err", "    1 | #include <torch/extension.h>");
  finder.Add("build:err", "compilation terminated.");
  finder.Add("build:err", "error: command '/usr/bin/x86_64-linux-gnu-gcc' failed with exit code 1");
  finder.Add("build:err", "ERROR: Failed building wheel for demo");
  EXPECT_EQ(finder.Cause("build"), "src/ext.cpp:1:10: fatal error: torch/extension.h: No such file or directory");
}

TEST(FailureCauseTest, NvccLinkerPythonSetuptoolsAndAptErrorsAreCauses) {
  const std::vector<std::string> causes = {
      "csrc/kernel.cu(12): error: identifier \"warp_sum\" is undefined",
      "/usr/bin/ld: cannot find -lcudart: No such file or directory",
      "ext.o: undefined reference to `c10::Error::Error(c10::SourceLocation, std::string)'",
      "ImportError: /x/ext.so: undefined symbol: _ZN3c104cuda9SetDeviceEi",
      "ModuleNotFoundError: No module named 'torch'",
      "configuration error: `project.license` must be valid exactly by one definition (2 matches found):",
      "E: Unable to locate package libfoo-dev",
      "nvcc fatal   : Unsupported gpu architecture 'compute_100'",
      "c++: fatal error: Killed signal terminated program cc1plus",
  };
  for (const std::string& cause : causes) {
    FailureCauseFinder finder;
    finder.Add("build", "ERROR: something generic");
    finder.Add("build", cause);
    EXPECT_EQ(finder.Cause("build"), cause);
  }
}

TEST(FailureCauseTest, GenericLinesAreTheCauseWhenNothingSaysMore) {
  FailureCauseFinder finder;
  finder.Add("build", "Processing /cwb/src");
  finder.Add("build:err", "ERROR: Could not find a version that satisfies the requirement nosuchpkg");
  EXPECT_EQ(finder.Cause("build"), "ERROR: Could not find a version that satisfies the requirement nosuchpkg");
  FailureCauseFinder engine;
  engine.Add("image:err", "Error: creating build container: initializing source docker://127.0.0.1:1/x:1: "
                          "pinging container registry 127.0.0.1:1: connect: connection refused");
  EXPECT_EQ(engine.Cause("image").substr(0, 40), "Error: creating build container: initial");
}

TEST(FailureCauseTest, StepsAreApartAndCwbsAndGitsLinesAreNeverCauses) {
  FailureCauseFinder finder;
  finder.Add("cwb", "task failed: error: whatever");
  finder.Add("git", "fatal: couldn't find remote ref v9");
  finder.Add("build", "x.c:1:1: error: expected ';'");
  finder.Add("test:err", "AssertionError: 2 != 3");
  EXPECT_EQ(finder.Cause("build"), "x.c:1:1: error: expected ';'");
  EXPECT_EQ(finder.Cause("test"), "AssertionError: 2 != 3");
  EXPECT_EQ(finder.Cause("image"), "");
}

TEST(FailureCauseTest, MemoryAndLengthAreBoundedAndRepeatsKeptOnce) {
  FailureCauseFinder finder;
  for (int i = 0; i < 1000; ++i) finder.Add("build", "a.cu(1): error: the same error");
  finder.Add("build", "b.cu(2): error: " + std::string(1000, 'x'));
  finder.Add("build", "c.cu(3): error: a third");
  finder.Add("build", "d.cu(4): error: a fourth, past the lines kept");
  const std::string cause = finder.Cause("build");
  EXPECT_EQ(cause.find("a.cu(1): error: the same error | b.cu(2): error: xxx"), 0u) << cause;
  EXPECT_NE(cause.find("... | c.cu(3): error: a third"), std::string::npos) << cause;
  EXPECT_EQ(cause.find("fourth"), std::string::npos);
  EXPECT_LE(cause.size(), FailureCauseFinder::kMaxCauseChars + 3);
  const std::string utf8(300, 'a');
  FailureCauseFinder cut;
  cut.Add("build", "ValueError: " + utf8.substr(0, 226) + "é€✓ and more after the cut");
  EXPECT_EQ(cut.Cause("build"), "ValueError: " + utf8.substr(0, 226) + "é...");  // whole characters
}

TEST(FailureCauseTest, WithCauseAppendsOnlyWhatIsNotSaidAlready) {
  EXPECT_EQ(WithCause("the build command exited with status 1", "x.c:1:1: error: y"),
            "the build command exited with status 1: x.c:1:1: error: y");
  EXPECT_EQ(WithCause("the build command exited with status 1", ""), "the build command exited with status 1");
  EXPECT_EQ(WithCause("podman failed: Error: x", "Error: x"), "podman failed: Error: x");
}

}  // namespace
}  // namespace cwb
