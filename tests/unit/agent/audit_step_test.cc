// The release gate in BuildPipeline: the helper's run (a fresh container of the image with the
// wheels' ELF files and no GPU), its report read back, the task failed on a symbol or a refused
// tag, the wheel retagged otherwise, and what goes wrong with the helper itself. The fake runtime
// stands in for cwb-audit, writing the report it would.
#include <zip.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "tests/unit/agent/build_pipeline_fixture.h"

namespace cwb::testing {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;

constexpr char kWheel[] = "demo-1.0-cp311-cp311-linux_x86_64.whl";

// A wheel with one ELF member (its magic is all the gate's extraction looks at) and a .dist-info.
void WriteElfWheel(const fs::path& path) {
  int error = 0;
  zip_t* archive = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &error);
  ASSERT_NE(archive, nullptr);
  static const std::vector<std::pair<std::string, std::string>> kEntries = {
      {"demo/_C.cpython-311-x86_64-linux-gnu.so", std::string("\x7f" "ELF", 4) + "rest"},
      {"demo-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n"},
      {"demo-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nTag: cp311-cp311-linux_x86_64\n"},
      {"demo-1.0.dist-info/RECORD", "demo-1.0.dist-info/RECORD,,\n"}};
  for (const auto& [name, data] : kEntries) {
    zip_source_t* source = zip_source_buffer(archive, data.data(), data.size(), 0);
    ASSERT_GE(zip_file_add(archive, name.c_str(), source, ZIP_FL_ENC_UTF_8), 0);
  }
  ASSERT_EQ(zip_close(archive), 0);
}

class AuditStepTest : public BuildPipelineTest {
 protected:
  AuditStepTest() {
    fs::create_directories(work_ / "libexec");
    std::ofstream(work_ / "libexec/cwb-audit") << "the helper";
    options_.audit_tool = work_ / "libexec/cwb-audit";
    runtime_.on_run = [this](const ContainerRunRequest& request, const ContainerRuntime::LineCallback& on_line) {
      if (request.subject == "audit") {
        audit_request_ = request;
        for (const Mount& mount : request.mounts) {
          if (mount.container_path == "/cwb/audit-in") {
            for (const auto& entry : fs::recursive_directory_iterator(mount.host_path)) {
              if (entry.is_regular_file()) audit_inputs_.push_back(entry.path().lexically_relative(mount.host_path));
            }
          }
          if (mount.container_path == "/cwb/audit-out" && write_report_) {
            std::ofstream out(mount.host_path / "report.pb", std::ios::binary);
            report_.SerializeToOstream(&out);
          }
        }
        on_line("audit of " + std::string(kWheel));
        return helper_exit_;
      }
      for (const Mount& mount : request.mounts) {
        if (mount.container_path == "/cwb/out") WriteElfWheel(mount.host_path / kWheel);
      }
      return 0;
    };
  }

  // A report of one wheel: passed, with policy manylinux_2_17 set by memcpy.
  v1::WheelAudit& ReportOneWheel() {
    v1::WheelAudit& audit = *report_.add_wheels();
    audit.set_wheel(kWheel);
    audit.set_target("torch 2.4.0 (CUDA 12.1) at /t, Python 3.11 (/usr/bin/python3.11)");
    audit.set_passed(true);
    v1::ElfAudit& file = *audit.add_files();
    file.set_path("demo/_C.cpython-311-x86_64-linux-gnu.so");
    file.set_symbols_checked(42);
    audit.mutable_policy()->set_tag("manylinux_2_17_x86_64");
    audit.mutable_policy()->set_glibc_minor(17);
    audit.mutable_policy()->set_set_by("GLIBC_2.17 (clock_gettime) of libc.so.6, needed by demo/_C.so");
    return audit;
  }

  v1::AuditReport report_;
  bool write_report_ = true;
  int helper_exit_ = 0;
  ContainerRunRequest audit_request_;
  std::vector<fs::path> audit_inputs_;
};

TEST_F(AuditStepTest, TheHelperRunsWithoutAGpuOnTheElfFilesAndTheWheelIsRetagged) {
  ReportOneWheel();
  v1::TaskSpec spec = Spec();
  spec.set_platform_tag("manylinux");
  const TaskResult result = RunTask(spec);
  ASSERT_EQ(result.outcome, TaskOutcome::kSucceeded) << result.message;
  ASSERT_EQ(result.wheels.size(), 1u);
  EXPECT_EQ(result.wheels[0].filename, "demo-1.0-cp311-cp311-manylinux_2_17_x86_64.whl");
  ASSERT_TRUE(result.audit.has_value());
  EXPECT_TRUE(result.audit->passed());
  EXPECT_EQ(result.audit->elf_files(), 1u);
  EXPECT_EQ(result.audit->symbols_checked(), 42u);
  EXPECT_THAT(result.audit->platform_tags(), ::testing::ElementsAre("manylinux_2_17_x86_64"));

  EXPECT_EQ(audit_request_.gpus.kind, GpuRequest::Kind::kNone);
  EXPECT_EQ(audit_request_.command,
            (std::vector<std::string>{"/cwb/tools/cwb-audit", "--python", "cwb-python", "--report",
                                      "/cwb/audit-out/report.pb", absl::StrCat("/cwb/audit-in/", kWheel)}));
  std::vector<std::string> mounts;
  for (const Mount& mount : audit_request_.mounts) mounts.push_back(mount.container_path + (mount.read_only ? ":ro" : ""));
  EXPECT_THAT(mounts, ::testing::UnorderedElementsAre("/cwb/tools:ro", "/cwb/audit-in:ro", "/cwb/audit-out"));
  EXPECT_THAT(audit_inputs_, ::testing::ElementsAre(fs::path(kWheel) / "demo/_C.cpython-311-x86_64-linux-gnu.so"));
  EXPECT_THAT(lines_, Contains(HasSubstr("[audit] audit of demo-1.0")));
  EXPECT_THAT(lines_, Contains(HasSubstr("retagged demo-1.0-cp311-cp311-linux_x86_64.whl as "
                                         "demo-1.0-cp311-cp311-manylinux_2_17_x86_64.whl")));
}

TEST_F(AuditStepTest, AsBuiltTheTagStaysAndThePolicyIsStillReported) {
  ReportOneWheel();
  const TaskResult result = RunTask(Spec());
  ASSERT_EQ(result.outcome, TaskOutcome::kSucceeded) << result.message;
  EXPECT_EQ(result.wheels[0].filename, kWheel);
  EXPECT_THAT(result.audit->platform_tags(), ::testing::ElementsAre("manylinux_2_17_x86_64"));
}

TEST_F(AuditStepTest, AnOlderTagThanThePolicyIsRefusedNamingWhatNeedsNewer) {
  ReportOneWheel();
  v1::TaskSpec spec = Spec();
  spec.set_platform_tag("manylinux_2_12");
  const TaskResult result = RunTask(spec);
  EXPECT_EQ(result.outcome, TaskOutcome::kFailed);
  EXPECT_EQ(result.message, absl::StrCat("the release gate refused the wheels: platform_tag manylinux_2_12 refused: ",
                                         kWheel, " needs manylinux_2_17 (GLIBC_2.17 (clock_gettime) of libc.so.6, "
                                         "needed by demo/_C.so)"));
  EXPECT_TRUE(result.wheels.empty());
  spec.set_platform_tag("manylinux_2_28");  // a newer one than needed is the user's promise
  git_.Script({{"git", "-C"}, {kCommit}, 0, false, 1});
  const TaskResult newer = RunTask(spec);
  ASSERT_EQ(newer.wheels.size(), 1u) << newer.message;
  EXPECT_EQ(newer.wheels[0].filename, "demo-1.0-cp311-cp311-manylinux_2_28_x86_64.whl");
}

TEST_F(AuditStepTest, AnUnresolvedSymbolFailsTheTaskNamingItAndTheTorch) {
  v1::WheelAudit& audit = ReportOneWheel();
  audit.set_passed(false);
  v1::Unresolved& missing = *audit.mutable_files(0)->add_unresolved();
  missing.set_symbol("c10::Foo()");
  missing.set_raw("_ZN3c103FooEv");
  const TaskResult result = RunTask(Spec());
  EXPECT_EQ(result.outcome, TaskOutcome::kFailed);
  EXPECT_EQ(result.message, "the release gate refused the wheels: undefined symbol: c10::Foo() (_ZN3c103FooEv) in "
                            "demo/_C.cpython-311-x86_64-linux-gnu.so, checked against torch 2.4.0 (CUDA 12.1) at /t, "
                            "Python 3.11 (/usr/bin/python3.11)");
  ASSERT_TRUE(result.audit.has_value());
  EXPECT_FALSE(result.audit->passed());
  EXPECT_TRUE(result.wheels.empty());
}

TEST_F(AuditStepTest, TheHelpersOwnFailuresFailTheTaskSayingWhat) {
  write_report_ = false;
  helper_exit_ = 139;
  TaskResult result = RunTask(Spec());
  EXPECT_EQ(result.outcome, TaskOutcome::kFailed);
  EXPECT_THAT(result.message, HasSubstr("the release gate failed: the release gate wrote no report"));

  write_report_ = true;
  report_.set_error("cannot run cwb-python: No such file or directory");
  git_.Script({{"git", "-C"}, {kCommit}, 0, false, 1});
  result = RunTask(Spec());
  EXPECT_THAT(result.message, HasSubstr("the release gate could not run: cannot run cwb-python"));

  options_.audit_tool = work_ / "nowhere/cwb-audit";
  git_.Script({{"git", "-C"}, {kCommit}, 0, false, 1});
  result = RunTask(Spec());
  EXPECT_THAT(result.message, HasSubstr("the release gate's helper cwb-audit is not installed at " +
                                        (work_ / "nowhere/cwb-audit").string()));
}

}  // namespace
}  // namespace cwb::testing
