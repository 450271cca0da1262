// The release gate's parts (common/audit) without containers: the manylinux policy from needed
// versions and libraries, the target Python's probe, ld.so.conf, ELF files read with libelf
// (this test's own binary, and damaged copies of it), and the report's text.
#include <elf.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "common/audit/elf_object.h"
#include "common/audit/library_search.h"
#include "common/audit/manylinux_policy.h"
#include "common/audit/target_python.h"
#include "common/audit/wheel_audit.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cwb::audit {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// One ELF file's needs as ChoosePolicy sees them.
struct FakeFile {
  std::string path = "pkg/_native.so";
  int machine = EM_X86_64;
  std::vector<NeededVersion> needs;
  std::vector<ImportedSymbol> imports;
  std::vector<std::string> outside;
  std::vector<std::string> torch_or_cuda;

  PolicyInput Input() const { return {path, machine, &needs, &imports, outside, torch_or_cuda}; }
};

v1::ManylinuxPolicy PolicyOf(const FakeFile& file) { return ChoosePolicy({file.Input()}); }

TEST(ManylinuxPolicyTest, TheNewestGlibcVersionSetsXAndSaysWhichSymbolNeedsIt) {
  FakeFile file;
  file.needs = {{"libc.so.6", "GLIBC_2.2.5"}, {"libc.so.6", "GLIBC_2.14"}, {"libc.so.6", "GLIBC_2.4"}};
  file.imports = {{"free", "GLIBC_2.2.5", "libc.so.6"}, {"memcpy", "GLIBC_2.14", "libc.so.6"}};
  file.outside = {"libc.so.6", "libm.so.6", "libz.so.1"};
  const v1::ManylinuxPolicy policy = PolicyOf(file);
  EXPECT_EQ(policy.tag(), "manylinux_2_14_x86_64");
  EXPECT_EQ(policy.glibc_minor(), 14u);
  EXPECT_EQ(policy.set_by(), "GLIBC_2.14 (memcpy) of libc.so.6, needed by pkg/_native.so");
  EXPECT_TRUE(policy.blockers().empty());
}

TEST(ManylinuxPolicyTest, OldModulesGetTheArchitecturesOldestPolicy) {
  FakeFile file;
  file.needs = {{"libc.so.6", "GLIBC_2.2.5"}};
  EXPECT_EQ(PolicyOf(file).tag(), "manylinux_2_5_x86_64");
  file.machine = EM_AARCH64;
  EXPECT_EQ(PolicyOf(file).tag(), "manylinux_2_17_aarch64");
  file.machine = EM_PPC64;
  EXPECT_EQ(PolicyOf(file).tag(), "");
  EXPECT_THAT(PolicyOf(file).blockers(0), HasSubstr("no manylinux policy covers ELF machine"));
}

TEST(ManylinuxPolicyTest, LibstdcxxAndLibgccVersionsRaiseXToTheFirstPolicyShippingThem) {
  const auto minor_for = [](const std::string& file, const std::string& version) {
    FakeFile fake;
    fake.needs = {{"libc.so.6", "GLIBC_2.2.5"}, {file, version}};
    return PolicyOf(fake).glibc_minor();
  };
  EXPECT_EQ(minor_for("libstdc++.so.6", "GLIBCXX_3.4.19"), 17u);
  EXPECT_EQ(minor_for("libstdc++.so.6", "GLIBCXX_3.4.20"), 24u);
  EXPECT_EQ(minor_for("libstdc++.so.6", "GLIBCXX_3.4.29"), 34u);
  EXPECT_EQ(minor_for("libstdc++.so.6", "GLIBCXX_3.4.30"), 35u);
  EXPECT_EQ(minor_for("libstdc++.so.6", "CXXABI_1.3.13"), 34u);
  EXPECT_EQ(minor_for("libstdc++.so.6", "CXXABI_TM_1"), 17u);
  EXPECT_EQ(minor_for("libgcc_s.so.1", "GCC_4.8.0"), 17u);
  EXPECT_EQ(minor_for("libgcc_s.so.1", "GCC_7.0.0"), 27u);
  EXPECT_EQ(minor_for("libfoo.so.1", "FOO_9.9"), 5u);  // another library's versions are its own
}

TEST(ManylinuxPolicyTest, BlockersNameTheVersionOrLibraryNoPolicyHas) {
  FakeFile newer;
  newer.needs = {{"libstdc++.so.6", "GLIBCXX_3.4.99"}};
  EXPECT_EQ(PolicyOf(newer).tag(), "");
  EXPECT_THAT(PolicyOf(newer).blockers(), ElementsAre(HasSubstr("GLIBCXX_3.4.99 (of libstdc++.so.6) is newer than any manylinux policy")));

  FakeFile private_glibc;
  private_glibc.needs = {{"libc.so.6", "GLIBC_PRIVATE"}};
  EXPECT_THAT(PolicyOf(private_glibc).blockers(), ElementsAre(HasSubstr("GLIBC_PRIVATE symbols (of libc.so.6) are in no manylinux policy")));

  FakeFile outside;
  outside.outside = {"libssl.so.3", "libstdc++.so.6"};
  outside.torch_or_cuda = {"libc10.so", "libcudart.so.12", "libcuda.so.1"};
  const v1::ManylinuxPolicy policy = PolicyOf(outside);
  EXPECT_EQ(policy.tag(), "");
  EXPECT_THAT(policy.blockers(), ElementsAre(HasSubstr("libssl.so.3, needed by pkg/_native.so, is outside the wheel")));
  EXPECT_THAT(policy.excluded(), ElementsAre("libc10.so", "libcuda.so.1", "libcudart.so.12"));

  FakeFile vector_math;
  vector_math.outside = {"libmvec.so.1"};
  EXPECT_EQ(PolicyOf(vector_math).tag(), "manylinux_2_24_x86_64");  // libmvec is in the policies from 2_24 on
}

TEST(ManylinuxPolicyTest, ThePlatformTagSettingGivesATagOrSaysWhyNot) {
  v1::ManylinuxPolicy policy;
  policy.set_tag("manylinux_2_17_x86_64");
  policy.set_glibc_minor(17);
  policy.set_set_by("GLIBC_2.17 (clock_gettime) of libc.so.6, needed by a.so");
  EXPECT_EQ(DecidePlatformTag("linux", policy).tag, "");
  EXPECT_EQ(DecidePlatformTag("manylinux", policy).tag, "manylinux_2_17_x86_64");
  EXPECT_EQ(DecidePlatformTag("manylinux_2_28", policy).tag, "manylinux_2_28_x86_64");
  EXPECT_EQ(DecidePlatformTag("manylinux_2_17", policy).tag, "manylinux_2_17_x86_64");
  const TagDecision older = DecidePlatformTag("manylinux_2_12", policy);
  EXPECT_EQ(older.tag, "");
  EXPECT_EQ(older.refusal, "needs manylinux_2_17 (GLIBC_2.17 (clock_gettime) of libc.so.6, needed by a.so)");

  v1::ManylinuxPolicy none;
  none.add_blockers("libssl.so.3, needed by a.so, is outside the wheel");
  EXPECT_EQ(DecidePlatformTag("manylinux", none).refusal,
            "satisfies no manylinux policy: libssl.so.3, needed by a.so, is outside the wheel");
  EXPECT_EQ(DecidePlatformTag("linux", none).refusal, "");
}

TEST(TargetPythonTest, TheProbesLinesGiveTheInterpreterTorchAndLoadedLibrariesOnce) {
  std::string error;
  std::optional<TargetPython> target = ParseTargetPythonProbe(
      "executable=/usr/bin/python3.11\nversion=3.11\ntorch=1.13.0a0\ntorch_cuda=\ntorch_dir=/usr/lib/python3/dist-packages/torch\n"
      "loaded=/usr/lib/x86_64-linux-gnu/libc10.so.1.13.0\nloaded=/usr/lib/x86_64-linux-gnu/libc10.so.1.13.0\nnoise\n",
      &error);
  ASSERT_TRUE(target.has_value()) << error;
  EXPECT_EQ(target->Describe(),
            "torch 1.13.0a0 (CPU) at /usr/lib/python3/dist-packages/torch, Python 3.11 (/usr/bin/python3.11)");
  EXPECT_THAT(target->loaded, ElementsAre("/usr/lib/x86_64-linux-gnu/libc10.so.1.13.0"));

  target = ParseTargetPythonProbe("executable=/p\nversion=3.12\ntorch_error=ModuleNotFoundError: No module named 'torch'\n", &error);
  ASSERT_TRUE(target.has_value());
  EXPECT_EQ(target->Describe(), "no torch (ModuleNotFoundError: No module named 'torch'), Python 3.12 (/p)");
  EXPECT_FALSE(ParseTargetPythonProbe("torch=2.1\n", &error).has_value());
  EXPECT_THAT(error, HasSubstr("printed no executable and version"));
}

class AuditFilesTest : public ::testing::Test {
 protected:
  AuditFilesTest() {
    dir_ = fs::path(::testing::TempDir()) /
           ("audit_" + std::to_string(::getpid()) + "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  fs::path dir_;
};

TEST_F(AuditFilesTest, LdSoConfIncludesAreFollowedThenTheDefaultsEachDirectoryOnce) {
  fs::create_directories(dir_ / "etc/ld.so.conf.d");
  std::ofstream(dir_ / "etc/ld.so.conf") << "# comment\ninclude /etc/ld.so.conf.d/*.conf\n/opt/first\n";
  std::ofstream(dir_ / "etc/ld.so.conf.d/b.conf") << "/opt/b  # trailing\n/usr/lib\n";
  std::ofstream(dir_ / "etc/ld.so.conf.d/a.conf") << "/opt/a\nhwcap 0 nosegneg\n";
  EXPECT_THAT(SystemLibraryDirs(dir_),
              ElementsAre("/opt/a", "/opt/b", "/usr/lib", "/opt/first", "/lib64", "/usr/lib64", "/lib"));
  EXPECT_EQ(ExpandOrigin("$ORIGIN/../lib:${ORIGIN}", "/w/pkg"), "/w/pkg/../lib:/w/pkg");
}

TEST_F(AuditFilesTest, ARealElfFileGivesItsNeedsAndVersionsAndADamagedOneAnErrorNamingIt) {
  const fs::path self = fs::read_symlink("/proc/self/exe");
  std::string error;
  std::unique_ptr<ElfObject> elf = ElfObject::Read(self, &error);
  ASSERT_NE(elf, nullptr) << error;
  EXPECT_EQ(elf->machine(), EM_X86_64);
  EXPECT_THAT(elf->needed(), ::testing::Contains("libc.so.6"));
  bool glibc_versioned = false;
  for (const ImportedSymbol& symbol : elf->imports()) {
    if (symbol.version.starts_with("GLIBC_2.") && symbol.version_file == "libc.so.6") glibc_versioned = true;
  }
  EXPECT_TRUE(glibc_versioned);
  EXPECT_FALSE(elf->needed_versions().empty());

  // Its first 4 KiB only: the section headers are past the end.
  std::ifstream in(self, std::ios::binary);
  std::string head(4096, '\0');
  in.read(head.data(), head.size());
  std::ofstream(dir_ / "truncated.so", std::ios::binary) << head;
  EXPECT_TRUE(ElfObject::HasElfMagic(dir_ / "truncated.so"));
  EXPECT_EQ(ElfObject::Read(dir_ / "truncated.so", &error), nullptr);
  EXPECT_THAT(error, HasSubstr("truncated.so: "));

  std::ofstream(dir_ / "text.so") << "not an ELF file";
  EXPECT_FALSE(ElfObject::HasElfMagic(dir_ / "text.so"));
  EXPECT_EQ(ElfObject::Read(dir_ / "text.so", &error), nullptr);
  EXPECT_THAT(error, HasSubstr("text.so: not an ELF file"));
  EXPECT_EQ(Demangle("_ZN3c106detail14torchCheckFailEPKcS2_jRKSs"),
            "c10::detail::torchCheckFail(char const*, char const*, unsigned int, std::string const&)");
  EXPECT_EQ(Demangle("memcpy"), "memcpy");
}

// The module: this test's own binary, made to need libcuda.so.1 (patchelf); the stub: a copy of
// the system's libz named libcuda.so.1. No system directory is searched, so no driver installed
// here can answer instead of the stub.
TEST_F(AuditFilesTest, TheCudaDriverIsCheckedAgainstTheToolkitsStubWhereNoDriverIsInstalled) {
  const fs::path wheel = dir_ / "wheel";
  fs::create_directories(wheel / "pkg");
  fs::copy_file(fs::read_symlink("/proc/self/exe"), wheel / "pkg/_C.so");
  ASSERT_EQ(std::system(("patchelf --add-needed libcuda.so.1 " + (wheel / "pkg/_C.so").string()).c_str()), 0);
  fs::create_directories(dir_ / "stubs");
  fs::copy_file(fs::canonical("/lib/x86_64-linux-gnu/libz.so.1"), dir_ / "stubs/libcuda.so");
  ASSERT_EQ(std::system(("patchelf --set-soname libcuda.so.1 " + (dir_ / "stubs/libcuda.so").string()).c_str()), 0);

  AuditTarget target;
  target.python.executable = fs::read_symlink("/proc/self/exe");
  target.python.version = "3.11";
  target.driver_stub = dir_ / "stubs/libcuda.so";
  ElfCache cache;
  v1::WheelAudit audit = AuditExtractedWheel(wheel, "pkg-1.0-cp311-cp311-linux_x86_64.whl", target, cache);
  ASSERT_EQ(audit.files_size(), 1);
  const auto provider_of = [](const v1::ElfAudit& file, const std::string& soname) -> std::string {
    for (const v1::LinkedLibrary& library : file.libraries()) {
      if (library.soname() == soname) return library.provider() + " " + library.path();
    }
    return "";
  };
  EXPECT_EQ(provider_of(audit.files(0), "libcuda.so.1"), "driver-stub " + (dir_ / "stubs/libcuda.so").string());
  EXPECT_THAT(audit.policy().excluded(), ::testing::Contains("libcuda.so.1"));

  // Without a toolkit's stub, the driver is a library not found, as any other.
  target.driver_stub.reset();
  ElfCache fresh;
  audit = AuditExtractedWheel(wheel, "pkg-1.0-cp311-cp311-linux_x86_64.whl", target, fresh);
  EXPECT_EQ(provider_of(audit.files(0), "libcuda.so.1"), "missing ");
  EXPECT_FALSE(audit.passed());
}

TEST(AuditReportTest, TheTextNamesEachProblemAndThePolicy) {
  v1::WheelAudit audit;
  audit.set_wheel("demo-1.0-cp311-cp311-linux_x86_64.whl");
  audit.set_target("torch 2.4.0 (CUDA 12.4) at /t, Python 3.11 (/p)");
  v1::ElfAudit& file = *audit.add_files();
  file.set_path("demo/_C.so");
  file.set_symbols_checked(10);
  file.set_from_interpreter(4);
  v1::LinkedLibrary& library = *file.add_libraries();
  library.set_soname("libc10.so");
  library.set_path("/t/lib/libc10.so");
  library.set_provider("torch");
  v1::Unresolved& missing = *file.add_unresolved();
  missing.set_symbol("c10::Foo()");
  missing.set_raw("_ZN3c103FooEv");
  v1::Unresolved& version = *file.add_unresolved();
  version.set_version("GLIBCXX_3.4.32");
  version.set_library("libstdc++.so.6");
  audit.mutable_policy()->add_blockers("libssl.so.3, needed by demo/_C.so, is outside the wheel");
  EXPECT_THAT(FormatAudit(audit),
              ElementsAre("audit of demo-1.0-cp311-cp311-linux_x86_64.whl against torch 2.4.0 (CUDA 12.4) at /t, Python 3.11 (/p)",
                          "  demo/_C.so: 10 symbols checked (4 from the interpreter, 0 weak left undefined); needs libc10.so "
                          "(torch /t/lib/libc10.so)",
                          "  undefined symbol: c10::Foo() (_ZN3c103FooEv) in demo/_C.so",
                          "  version GLIBCXX_3.4.32 of libstdc++.so.6 not found (needed by demo/_C.so)",
                          "  no manylinux policy: libssl.so.3, needed by demo/_C.so, is outside the wheel",
                          "  FAILED: an import of this wheel would fail"));
  EXPECT_EQ(FirstProblem(audit), "undefined symbol: c10::Foo() (_ZN3c103FooEv) in demo/_C.so, checked against torch 2.4.0 "
                                 "(CUDA 12.4) at /t, Python 3.11 (/p)");
  audit.mutable_files(0)->clear_unresolved();
  EXPECT_EQ(FirstProblem(audit), "");
}

}  // namespace
}  // namespace cwb::audit
