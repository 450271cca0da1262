#include "coordinator/published_names.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cwb {
namespace {

using ::testing::HasSubstr;

constexpr char kWheel[] = "flash_attn-2.6.3+cu124-cp312-cp312-linux_x86_64.whl";

TEST(PublishedNamesTest, BuildTagsGoIntoTheThirdPartAndReplaceAnOldOne) {
  EXPECT_EQ(WithBuildTag(kWheel, 1), "flash_attn-2.6.3+cu124-1-cp312-cp312-linux_x86_64.whl");
  EXPECT_EQ(WithBuildTag("demo-1.0-3a-py3-none-any.whl", 4), "demo-1.0-4-py3-none-any.whl");
  EXPECT_EQ(WithBuildTag("demo-1.0.tar.gz", 1), "");
  EXPECT_EQ(WithBuildTag("demo-1.0-py3-none.whl", 1), "");
}

TEST(PublishedNamesTest, AFreeNameOrTheSameBytesKeepTheirName) {
  PublishedNames names;
  EXPECT_EQ(names.NameFor(kWheel, "aaa", "b1").value(), kWheel);
  names.Add(kWheel, "aaa", "b1");
  EXPECT_EQ(names.NameFor(kWheel, "aaa", "b2").value(), kWheel);  // the result cache, a reproducible rebuild
  EXPECT_EQ(names.NameFor(kWheel, "aaa", "b1").value(), kWheel);
}

TEST(PublishedNamesTest, OtherBytesOfALaterBuildGetTheLowestFreeBuildTag) {
  PublishedNames names;
  names.Add(kWheel, "aaa", "b1");
  const std::string first = names.NameFor(kWheel, "bbb", "b2").value();
  EXPECT_EQ(first, WithBuildTag(kWheel, 1));
  names.Add(first, "bbb", "b2");
  EXPECT_EQ(names.NameFor(kWheel, "ccc", "b3").value(), WithBuildTag(kWheel, 2));
  EXPECT_EQ(names.NameFor(kWheel, "bbb", "b4").value(), first);  // those bytes already have a name
  // A name that has a build tag of its own gets a higher one, so pip still prefers the newer.
  names.Add("demo-1.0-7-py3-none-any.whl", "ddd", "b1");
  EXPECT_EQ(names.NameFor("demo-1.0-7-py3-none-any.whl", "eee", "b2").value(), "demo-1.0-8-py3-none-any.whl");
}

TEST(PublishedNamesTest, TwoWheelsOfOneNameInOneBuildAreAnError) {
  PublishedNames names;
  names.Add(kWheel, "aaa", "b1");
  absl::StatusOr<std::string> clash = names.NameFor(kWheel, "bbb", "b1");
  EXPECT_EQ(clash.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(clash.status().message(), HasSubstr("local version label"));
  // ... also when the clash is on the tagged name this build took.
  PublishedNames later;
  later.Add(kWheel, "aaa", "b0");
  later.Add(WithBuildTag(kWheel, 1), "bbb", "b1");
  EXPECT_EQ(later.NameFor(kWheel, "ccc", "b1").status().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace cwb
