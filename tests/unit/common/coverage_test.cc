// MakeCoverage and CoverageMarkdown on hand-made plans and results: each cell's status and reason,
// the latest result winning, outdated results, wheels that are gone, unsupported combinations,
// totals, and the Markdown grid.
#include "common/rpc/coverage.h"

#include "common/rpc/task_proto.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cwb {
namespace {

using ::testing::HasSubstr;

v1::TaskSpec Spec(const std::string& id, const std::string& project, const std::string& python,
                  const std::string& cuda, const std::string& torch) {
  v1::TaskSpec spec;
  spec.set_id(id);
  spec.set_project(project);
  AppendAxes({{"python_version", python}, {"cuda_version", cuda}, {"pytorch_version", torch}}, spec.mutable_axes());
  return spec;
}

v1::TaskInfo Result(const v1::TaskSpec& spec, v1::TaskState state, const std::string& message,
                    int64_t finished_at_ms, const std::string& wheel = "") {
  v1::TaskInfo task;
  *task.mutable_spec() = spec;
  task.set_state(state);
  task.set_message(message);
  task.set_finished_at_ms(finished_at_ms);
  if (!wheel.empty()) {
    v1::ArtifactInfo* artifact = task.add_artifacts();
    artifact->set_filename(wheel);
    artifact->set_wheelhouse_path("wheelhouse/py312/cuda12.4/linux_x86_64/" + wheel);
  }
  return task;
}

class CoverageTest : public ::testing::Test {
 protected:
  CoverageTest() {
    planned_ = {Spec("a1", "flash-attn", "3.12", "12.4", "2.5.1"), Spec("a2", "flash-attn", "3.12", "12.4", "2.4.0"),
                Spec("a3", "flash-attn", "3.11", "12.4", "2.5.1"), Spec("a4", "flash-attn", "3.11", "12.4", "2.4.0"),
                Spec("b1", "xformers", "3.12", "12.4", "2.5.1")};
    v1::UnsupportedTarget* left_out = unsupported_.Add();
    *left_out->mutable_axes() = Spec("", "", "3.13", "12.4", "2.4.0").axes();
    left_out->set_reason("PyTorch 2.4 has no wheels for Python 3.13");
  }

  v1::CoverageReport Report(const std::vector<v1::TaskInfo>& results, WheelCheck check = nullptr) {
    std::vector<const v1::TaskSpec*> specs;
    for (const v1::TaskSpec& spec : planned_) specs.push_back(&spec);
    std::vector<const v1::TaskInfo*> pointers;
    for (const v1::TaskInfo& result : results) pointers.push_back(&result);
    if (!check) check = [](const v1::ArtifactInfo&) { return std::string(); };
    return MakeCoverage("release.yaml", specs, unsupported_, pointers, check);
  }

  std::vector<v1::TaskSpec> planned_;
  google::protobuf::RepeatedPtrField<v1::UnsupportedTarget> unsupported_;
};

TEST_F(CoverageTest, EachCellShowsItsLatestResult) {
  v1::TaskSpec earlier_b1 = planned_[4];
  earlier_b1.set_id("b0");  // the cell's spec has changed since it was built
  const v1::CoverageReport report = Report({
      Result(planned_[0], v1::TASK_STATE_FAILED, "the build command exited with status 1", 100),
      Result(planned_[0], v1::TASK_STATE_SUCCEEDED, "built 1 wheel(s)", 200, "flash_attn-2.6.3+cu124torch2.5-cp312.whl"),
      Result(planned_[1], v1::TASK_STATE_SUCCEEDED, "built 1 wheel(s)", 300, "x.whl"),
      Result(planned_[1], v1::TASK_STATE_FAILED, "the smoke test failed: the test command exited with status 1", 400),
      Result(planned_[2], v1::TASK_STATE_CANCELLED, "fail_fast: task a2 failed", 400),
      Result(earlier_b1, v1::TASK_STATE_SUCCEEDED, "built 1 wheel(s)", 50, "xformers-0.0.28-cp312.whl"),
  });
  ASSERT_EQ(report.cells_size(), 6);
  EXPECT_EQ(report.cells(0).status(), v1::COVERAGE_STATUS_BUILT);
  EXPECT_THAT(report.cells(0).wheels(),
              ::testing::ElementsAre("wheelhouse/py312/cuda12.4/linux_x86_64/flash_attn-2.6.3+cu124torch2.5-cp312.whl"));
  EXPECT_FALSE(report.cells(0).outdated());
  EXPECT_EQ(report.cells(1).status(), v1::COVERAGE_STATUS_FAILED);
  EXPECT_EQ(report.cells(1).reason(), "the smoke test failed: the test command exited with status 1");
  EXPECT_TRUE(report.cells(1).wheels().empty());
  EXPECT_EQ(report.cells(2).status(), v1::COVERAGE_STATUS_MISSING);
  EXPECT_EQ(report.cells(2).reason(), "cancelled: fail_fast: task a2 failed");
  EXPECT_EQ(report.cells(3).status(), v1::COVERAGE_STATUS_MISSING);
  EXPECT_EQ(report.cells(3).reason(), "not built");
  EXPECT_EQ(report.cells(4).status(), v1::COVERAGE_STATUS_BUILT);
  EXPECT_TRUE(report.cells(4).outdated());
  EXPECT_EQ(report.cells(4).task_id(), "b1");
  EXPECT_EQ(report.cells(5).status(), v1::COVERAGE_STATUS_UNSUPPORTED);
  EXPECT_EQ(report.cells(5).project(), "");
  EXPECT_EQ(report.cells(5).reason(), "PyTorch 2.4 has no wheels for Python 3.13");
  EXPECT_EQ(report.built(), 2u);
  EXPECT_EQ(report.failed(), 1u);
  EXPECT_EQ(report.missing(), 2u);
  EXPECT_EQ(report.unsupported(), 1u);
}

TEST_F(CoverageTest, ABuiltCellWhoseWheelIsGoneIsMissingSayingSo) {
  const v1::CoverageReport report = Report(
      {Result(planned_[0], v1::TASK_STATE_SUCCEEDED, "", 1, "gone.whl")},
      [](const v1::ArtifactInfo& artifact) { return artifact.filename() + " is not in the wheelhouse"; });
  EXPECT_EQ(report.cells(0).status(), v1::COVERAGE_STATUS_MISSING);
  EXPECT_EQ(report.cells(0).reason(), "gone.whl is not in the wheelhouse");
  EXPECT_TRUE(report.cells(0).wheels().empty());
}

TEST_F(CoverageTest, MarkdownHasTotalsAGridPerProjectAndTheReasons) {
  const v1::CoverageReport report = Report({
      Result(planned_[0], v1::TASK_STATE_SUCCEEDED, "", 1, "flash_attn-2.6.3+cu124torch2.5-cp312.whl"),
      Result(planned_[1], v1::TASK_STATE_FAILED, "exit 1 | see `log`", 1),
  });
  const std::string md = CoverageMarkdown(report, [](const v1::CoverageCell& cell, const std::string& wheel) {
    return "/files/" + cell.task_id() + "/" + wheel.substr(wheel.rfind('/') + 1);
  });
  EXPECT_THAT(md, HasSubstr("## Wheel coverage of `release.yaml`\n\n**1 of 5** cells built, 1 failed, 3 missing; "
                            "1 combination(s) no PyTorch release supports.\n"));
  EXPECT_THAT(md, HasSubstr("### flash-attn\n\n| Python | cu124 torch2.5 | cu124 torch2.4 |\n| :-- | :-: | :-: |\n"
                            "| 3.12 | [✅](/files/a1/flash_attn-2.6.3+cu124torch2.5-cp312.whl \"flash\\_attn-2.6.3+cu124torch2.5-cp312.whl\") | ❌ |\n"
                            "| 3.11 | ⬜ | ⬜ |\n"));
  EXPECT_THAT(md, HasSubstr("### xformers\n\n| Python | cu124 torch2.5 |\n| :-- | :-: |\n| 3.12 | ⬜ |\n"));
  EXPECT_THAT(md, HasSubstr("- ❌ **flash-attn**, python\\_version 3.12, cuda\\_version 12.4, pytorch\\_version 2.4.0: "
                            "exit 1 \\| see \\`log\\`\n"));
  EXPECT_THAT(md, HasSubstr("- ➖ every project, python\\_version 3.13, cuda\\_version 12.4, pytorch\\_version 2.4.0: "
                            "PyTorch 2.4 has no wheels for Python 3.13\n"));
}

}  // namespace
}  // namespace cwb
