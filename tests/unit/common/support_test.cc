// Small shared pieces: suggestions, validators, digests, atomic files.
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/base/atomic_file.h"
#include "common/base/streaming_file.h"
#include "common/config/did_you_mean.h"
#include "common/base/digest.h"
#include "common/config/validate.h"
#include "common/config/wheelhouse.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cwb {
namespace {

TEST(DidYouMeanTest, SuggestsCloseKeysOnly) {
  constexpr std::string_view kKeys[] = {"repo_url", "repo_ref", "build_command"};
  EXPECT_EQ(EditDistance("kitten", "sitting"), 3);
  EXPECT_EQ(ClosestMatch("repo_rev", kKeys), "repo_ref");
  EXPECT_EQ(ClosestMatch("buildcommand", kKeys), "build_command");
  EXPECT_EQ(ClosestMatch("colour", kKeys), std::nullopt);
  EXPECT_EQ(DidYouMeanSuffix("repo_urll", kKeys), " (did you mean 'repo_url'?)");
}

TEST(ValidateTest, VersionsAsWritten) {
  EXPECT_FALSE(ValidatePythonVersion("3.10"));
  EXPECT_FALSE(ValidatePythonVersion("3.13t"));
  EXPECT_TRUE(ValidatePythonVersion("3"));
  EXPECT_TRUE(ValidatePythonVersion("3.10; ls"));
  EXPECT_FALSE(ValidateCudaVersion("cpu"));
  EXPECT_FALSE(ValidateCudaVersion("11.8.0"));
  EXPECT_TRUE(ValidateCudaVersion("CPU"));
  EXPECT_FALSE(ValidateTorchVersion("2.6.0.dev20241101"));
  EXPECT_FALSE(ValidateTorchVersion("2.5.0rc1"));
  EXPECT_TRUE(ValidateTorchVersion("latest"));
}

TEST(ValidateTest, RefusesShellSyntaxInNamesRefsAndUrls) {
  for (const char* bad : {"a b", "$(id)", "`id`", "a;b", "-rf", "a|b", "a\nb"}) {
    EXPECT_TRUE(ValidateProjectName(bad)) << bad;
    EXPECT_TRUE(ValidateGitRef(bad)) << bad;
  }
  EXPECT_TRUE(ValidateGitRef("a..b"));
  EXPECT_TRUE(ValidateGitRef("-c core.pager=sh"));
  EXPECT_FALSE(ValidateGitRef("release/2.6"));
  EXPECT_FALSE(ValidateGitRef("0123456789abcdef0123456789abcdef01234567"));
  EXPECT_TRUE(ValidateRepoUrl("ext::sh -c id"));
  EXPECT_TRUE(ValidateRepoUrl("--upload-pack=touch /tmp/x"));
  EXPECT_TRUE(ValidateRepoUrl("https://x/$(id)"));
  EXPECT_FALSE(ValidateRepoUrl("https://github.com/org/repo.git"));
  EXPECT_FALSE(ValidateRepoUrl("git@github.com:org/repo.git"));
  EXPECT_FALSE(ValidateRepoUrl("file:///srv/git/repo"));
  EXPECT_FALSE(ValidateRepoUrl("/srv/git/repo"));
  EXPECT_FALSE(ValidateRepoUrl("./repos/demo"));
}

TEST(ValidateTest, PackagesAndEnvironment) {
  EXPECT_FALSE(ValidatePipRequirement("packaging>=23,<25"));
  EXPECT_FALSE(ValidatePipRequirement("einops[torch]==0.8.0"));
  EXPECT_TRUE(ValidatePipRequirement("x'; rm -rf /"));
  EXPECT_TRUE(ValidatePipRequirement("--index-url=http://evil"));
  EXPECT_FALSE(ValidateAptPackage("gcc-12=12.2.0-14"));
  EXPECT_TRUE(ValidateAptPackage("git && curl"));
  EXPECT_FALSE(ValidateEnvName("TORCH_CUDA_ARCH_LIST"));
  EXPECT_TRUE(ValidateEnvName("1BAD"));
  EXPECT_TRUE(ValidateEnvValue("a\nb"));
  EXPECT_FALSE(ValidateImageRef("localhost/cwb-base:bookworm"));
  EXPECT_TRUE(ValidateImageRef("img\nRUN evil"));
  EXPECT_TRUE(ValidateBuildCommand("  "));
}

TEST(DigestTest, KnownVectorsAndFiles) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Sha256 incremental;
  incremental.Update("a");
  incremental.Update("bc");
  EXPECT_EQ(incremental.FinishHex(), Sha256Hex("abc"));
  const std::filesystem::path path = std::filesystem::path(::testing::TempDir()) / "digest.bin";
  std::string big(3 << 16, 'x');
  std::ofstream(path, std::ios::binary) << big;
  EXPECT_EQ(Sha256File(path).value(), Sha256Hex(big));
  EXPECT_FALSE(Sha256File(path.string() + ".missing").ok());
}

TEST(AtomicFileTest, WritesCompleteFilesAndLeavesNoTemporaries) {
  const std::filesystem::path dir = std::filesystem::path(::testing::TempDir()) / "atomic" / "sub";
  std::filesystem::remove_all(dir.parent_path());
  ASSERT_TRUE(WriteFileAtomically(dir / "f.txt", "one").ok());
  ASSERT_TRUE(WriteFileAtomically(dir / "f.txt", "two").ok());
  std::stringstream text;
  text << std::ifstream(dir / "f.txt").rdbuf();
  EXPECT_EQ(text.str(), "two");
  int entries = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir)) ++entries;
  EXPECT_EQ(entries, 1);
}

TEST(AtomicFileTest, FailureLeavesTheOldFile) {
  const std::filesystem::path dir = std::filesystem::path(::testing::TempDir()) / "atomic_ro";
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(WriteFileAtomically(dir / "f.txt", "old").ok());
  // A directory in the way of the rename makes the commit fail.
  std::filesystem::create_directories(dir / "d.txt" / "child");
  EXPECT_FALSE(WriteFileAtomically(dir / "d.txt", "new").ok());
  int entries = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir)) ++entries;
  EXPECT_EQ(entries, 2);  // f.txt and d.txt/, no temporary left behind
}

TEST(TempFileWriterTest, LargeFilesAppearWholeUnderTheirNameOnlyOnCommit) {
  const std::filesystem::path dir = std::filesystem::path(::testing::TempDir()) / "tempfile";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto count = [&] {
    int entries = 0;
    for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir)) ++entries;
    return entries;
  };
  std::string expected;
  {
    auto writer = TempFileWriter::Create(dir / "big.whl");
    ASSERT_TRUE(writer.ok()) << writer.status();
    for (int i = 0; i < 20; ++i) {  // 20 MiB: writeback starts twice on the way
      const std::string chunk(1 << 20, static_cast<char>('a' + i));
      ASSERT_TRUE((*writer)->Write(chunk).ok());
      expected += chunk;
    }
    EXPECT_EQ((*writer)->size(), expected.size());
    EXPECT_FALSE(std::filesystem::exists(dir / "big.whl"));
    ASSERT_TRUE((*writer)->Commit().ok());
    EXPECT_FALSE((*writer)->Write("more").ok());
  }
  EXPECT_EQ(Sha256File(dir / "big.whl").value(), Sha256Hex(expected));
  EXPECT_EQ(count(), 1);
  {
    auto abandoned = TempFileWriter::Create(dir / "partial.whl");
    ASSERT_TRUE(abandoned.ok());
    ASSERT_TRUE((*abandoned)->Write("half a wheel").ok());
    EXPECT_EQ(count(), 2);
  }
  EXPECT_EQ(count(), 1);  // an uncommitted file leaves nothing
}

TEST(StreamingFileTest, ChunksAreWrittenAndHashedInOrder) {
  const std::filesystem::path dir = std::filesystem::path(::testing::TempDir()) / "streaming";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto file = StreamingFile::Create(dir / "w.whl");
  ASSERT_TRUE(file.ok()) << file.status();
  std::string expected;
  for (int i = 0; i < 100; ++i) {  // far more than kMaxPending: Add waits for room
    std::string chunk(1000 + i, static_cast<char>('0' + i % 10));
    expected += chunk;
    ASSERT_TRUE((*file)->Add(std::move(chunk)).ok());
  }
  ASSERT_TRUE((*file)->Drain().ok());
  EXPECT_EQ((*file)->size(), expected.size());
  EXPECT_EQ((*file)->Sha256Hex(), Sha256Hex(expected));
  EXPECT_FALSE(std::filesystem::exists(dir / "w.whl"));
  ASSERT_TRUE((*file)->Commit().ok());
  std::stringstream text;
  text << std::ifstream(dir / "w.whl", std::ios::binary).rdbuf();
  EXPECT_EQ(text.str(), expected);
}

}  // namespace
}  // namespace cwb

namespace cwb {
namespace {

TEST(WheelhouseTest, ParsesValidWheelNames) {
  absl::StatusOr<WheelName> name =
      ParseWheelFilename("flash_attn-2.6.3+cu124torch2.5-cp312-cp312-linux_x86_64.whl");
  ASSERT_TRUE(name.ok()) << name.status();
  EXPECT_EQ(name->distribution, "flash_attn");
  EXPECT_EQ(name->version, "2.6.3+cu124torch2.5");
  EXPECT_EQ(name->python_tag, "cp312");
  EXPECT_EQ(name->platform_tag, "linux_x86_64");
  name = ParseWheelFilename("pkg-1.0-1-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl");
  ASSERT_TRUE(name.ok()) << name.status();
  EXPECT_EQ(name->build, "1");
  EXPECT_EQ(name->platform_tag, "manylinux_2_17_x86_64.manylinux2014_x86_64");
}

TEST(WheelhouseTest, RefusesHostileOrInvalidNames) {
  for (const char* bad : {"../../x.whl", "/etc/x-1.0-py3-none-any.whl", "a/b-1.0-py3-none-any.whl",
                          "x-1.0-py3-none-any.tar.gz", "x.whl", "x-1.0-py3-none-any.whl\n",
                          "x-1..0-py3-none-any.whl", ""}) {
    EXPECT_FALSE(ParseWheelFilename(bad).ok()) << bad;
  }
  EXPECT_FALSE(ParseWheelFilename(std::string("x-1.0-py3-none-any\0.whl", 24)).ok());
}

TEST(WheelhouseTest, LayoutFollowsTheSeed) {
  EXPECT_EQ(WheelhouseDir("/out", "3.10", "11.8", "linux_x86_64"),
            "/out/wheelhouse/py310/cuda11.8/linux_x86_64");
  EXPECT_EQ(WheelhouseDir("/out", "3.11", "cpu", "linux_x86_64"),
            "/out/wheelhouse/py311/cudacpu/linux_x86_64");
}

}  // namespace
}  // namespace cwb
