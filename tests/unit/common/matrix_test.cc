#include "common/config/matrix.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cwb {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

MatrixSpec Matrix(std::vector<MatrixAxis> axes) {
  MatrixSpec spec;
  spec.axes = std::move(axes);
  spec.key_path = "build_matrix";
  return spec;
}

MatrixEntry Entry(AxisValues values) { return {std::move(values), {"m.yaml", 7, 5}, "entry"}; }

const MatrixSpec kTwoByTwo = Matrix({{"python_version", {"3.10", "3.11"}, {}},
                                     {"cuda_version", {"11.8", "12.1"}, {}},
                                     {"pytorch_version", {"2.3.0"}, {}}});

AxisValues Combo(std::string py, std::string cuda, std::string torch = "2.3.0") {
  return {{"python_version", py}, {"cuda_version", cuda}, {"pytorch_version", torch}};
}

TEST(MatrixTest, ProductInAxisOrder) {
  Diagnostics diagnostics;
  EXPECT_THAT(ExpandMatrix(kTwoByTwo, diagnostics),
              ElementsAre(Combo("3.10", "11.8"), Combo("3.10", "12.1"), Combo("3.11", "11.8"),
                          Combo("3.11", "12.1")));
  EXPECT_TRUE(diagnostics.empty());
}

TEST(MatrixTest, ExcludeRemovesEveryMatchingCombination) {
  MatrixSpec spec = kTwoByTwo;
  spec.exclude = {Entry({{"cuda_version", "11.8"}})};
  Diagnostics diagnostics;
  EXPECT_THAT(ExpandMatrix(spec, diagnostics),
              ElementsAre(Combo("3.10", "12.1"), Combo("3.11", "12.1")));
}

TEST(MatrixTest, AnExcludeThatMatchesNothingIsAWarningNotAnError) {
  MatrixSpec spec = kTwoByTwo;
  spec.exclude = {Entry({{"cuda_version", "11.08"}}), Entry({{"cuda_version", "11.8"}})};
  Diagnostics diagnostics;
  EXPECT_THAT(ExpandMatrix(spec, diagnostics), ElementsAre(Combo("3.10", "12.1"), Combo("3.11", "12.1")));
  EXPECT_TRUE(diagnostics.empty());  // no error
  ASSERT_EQ(diagnostics.warnings().size(), 1u);
  EXPECT_EQ(diagnostics.warnings()[0].ToString(),
            "m.yaml:7:5: entry: this exclude matches no combination of the matrix (cuda_version=11.08), so it excludes "
            "nothing");
  diagnostics.PromoteWarnings(" (--strict)");
  EXPECT_TRUE(diagnostics.warnings().empty());
  ASSERT_EQ(diagnostics.errors().size(), 1u);
  EXPECT_THAT(diagnostics.errors()[0].message, ::testing::EndsWith("excludes nothing (--strict)"));
}

TEST(MatrixTest, AnIncludeThatAddsACombinationOfItsOwnIsSaid) {
  MatrixSpec spec = kTwoByTwo;
  spec.include = {Entry({{"python_version", "3.12"}, {"cuda_version", "12.1"}, {"pytorch_version", "2.3.0"}})};
  Diagnostics diagnostics;
  EXPECT_EQ(ExpandMatrix(spec, diagnostics).size(), 5u);
  EXPECT_TRUE(diagnostics.empty());
  ASSERT_EQ(diagnostics.warnings().size(), 1u);
  EXPECT_THAT(diagnostics.warnings()[0].message, ::testing::HasSubstr("matches no combination of the matrix, so it adds one"));
  // One that extends combinations says nothing.
  spec.include = {Entry({{"cuda_version", "12.1"}, {"cxx11_abi", "TRUE"}})};
  Diagnostics quiet;
  ExpandMatrix(spec, quiet);
  EXPECT_TRUE(quiet.warnings().empty());
}

TEST(MatrixTest, ExcludeNeedsAllItsKeysToMatch) {
  MatrixSpec spec = kTwoByTwo;
  spec.exclude = {Entry({{"cuda_version", "11.8"}, {"python_version", "3.11"}})};
  Diagnostics diagnostics;
  EXPECT_THAT(ExpandMatrix(spec, diagnostics),
              ElementsAre(Combo("3.10", "11.8"), Combo("3.10", "12.1"), Combo("3.11", "12.1")));
}

TEST(MatrixTest, IncludeExtendsMatchingCombinationsWithNewKeys) {
  MatrixSpec spec = kTwoByTwo;
  spec.include = {Entry({{"cuda_version", "12.1"}, {"cxx11_abi", "TRUE"}})};
  Diagnostics diagnostics;
  std::vector<AxisValues> out = ExpandMatrix(spec, diagnostics);
  AxisValues extended_310 = Combo("3.10", "12.1");
  extended_310.emplace_back("cxx11_abi", "TRUE");
  AxisValues extended_311 = Combo("3.11", "12.1");
  extended_311.emplace_back("cxx11_abi", "TRUE");
  EXPECT_THAT(out, ElementsAre(Combo("3.10", "11.8"), extended_310, Combo("3.11", "11.8"),
                               extended_311));
}

TEST(MatrixTest, IncludeNeverOverwritesAnOriginalValueAndAddsACombinationInstead) {
  MatrixSpec spec = kTwoByTwo;
  spec.include = {Entry({{"python_version", "3.12"}, {"cuda_version", "12.4"},
                         {"pytorch_version", "2.5.1"}})};
  Diagnostics diagnostics;
  std::vector<AxisValues> out = ExpandMatrix(spec, diagnostics);
  ASSERT_EQ(out.size(), 5u);
  EXPECT_EQ(out.back(), Combo("3.12", "12.4", "2.5.1"));
  EXPECT_TRUE(diagnostics.empty());
}

TEST(MatrixTest, IncludeAddedLaterMayOverwriteAnEarlierAddedValue) {
  MatrixSpec spec = kTwoByTwo;
  spec.include = {Entry({{"cxx11_abi", "FALSE"}}),
                  Entry({{"python_version", "3.11"}, {"cxx11_abi", "TRUE"}})};
  Diagnostics diagnostics;
  std::vector<AxisValues> out = ExpandMatrix(spec, diagnostics);
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(FindAxis(out[0], "cxx11_abi"), "FALSE");
  EXPECT_EQ(FindAxis(out[2], "cxx11_abi"), "TRUE");
}

TEST(MatrixTest, IncompleteNewCombinationIsReported) {
  MatrixSpec spec = kTwoByTwo;
  spec.include = {Entry({{"python_version", "3.12"}, {"cuda_version", "12.4"}})};
  Diagnostics diagnostics;
  EXPECT_EQ(ExpandMatrix(spec, diagnostics).size(), 4u);
  EXPECT_EQ(diagnostics.ToString(),
            "m.yaml:7:5: entry: this include matches no combination, so it adds one, but it has "
            "no 'pytorch_version'");
}

TEST(MatrixTest, DuplicateIncludedCombinationAppearsOnce) {
  MatrixSpec spec = kTwoByTwo;
  spec.exclude = {Entry({{"python_version", "3.11"}})};
  spec.include = {Entry({{"python_version", "3.11"}, {"cuda_version", "12.1"},
                         {"pytorch_version", "2.3.0"}}),
                  Entry({{"python_version", "3.11"}, {"cuda_version", "12.1"},
                         {"pytorch_version", "2.3.0"}})};
  Diagnostics diagnostics;
  EXPECT_THAT(ExpandMatrix(spec, diagnostics),
              ElementsAre(Combo("3.10", "11.8"), Combo("3.10", "12.1"), Combo("3.11", "12.1")));
}

TEST(MatrixTest, EverythingExcludedLeavesNothing) {
  MatrixSpec spec = kTwoByTwo;
  spec.exclude = {Entry({{"pytorch_version", "2.3.0"}})};
  Diagnostics diagnostics;
  EXPECT_THAT(ExpandMatrix(spec, diagnostics), IsEmpty());
}

TEST(MatrixTest, RestrictKeepsListedValuesMinusExcludes) {
  Diagnostics diagnostics;
  std::vector<AxisValues> all = ExpandMatrix(kTwoByTwo, diagnostics);
  MatrixRestriction restriction;
  restriction.only = {{"python_version", {"3.11"}, {}}};
  EXPECT_THAT(Restrict(all, restriction), ElementsAre(Combo("3.11", "11.8"), Combo("3.11", "12.1")));
  restriction.exclude = {Entry({{"cuda_version", "11.8"}})};
  EXPECT_THAT(Restrict(all, restriction), ElementsAre(Combo("3.11", "12.1")));
}

}  // namespace
}  // namespace cwb
