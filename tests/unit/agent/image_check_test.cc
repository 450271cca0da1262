#include "agent/image_check.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cwb {
namespace {

using ::testing::HasSubstr;

v1::TaskSpec Cell(const std::string& python, const std::string& cuda, const std::string& torch) {
  v1::TaskSpec spec;
  for (const auto& [name, value] : {std::pair{"python_version", python}, {"cuda_version", cuda}, {"pytorch_version", torch}}) {
    v1::AxisValue* axis = spec.add_axes();
    axis->set_name(name);
    axis->set_value(value);
  }
  return spec;
}

ImageFacts Facts(const std::string& text) {
  absl::StatusOr<ImageFacts> facts = ParseImageFacts(text);
  EXPECT_TRUE(facts.ok()) << facts.status();
  return facts.ok() ? *facts : ImageFacts{};
}

TEST(ImageCheckTest, AMatchingImageSaysWhatItGives) {
  const ImageFacts facts = Facts("python=3.11.9\nexecutable=/opt/conda/bin/python3.11\ntorch=2.4.0+cu121\ntorch_cuda=12.1\n");
  absl::StatusOr<std::string> gives = CheckImageAgainstCell(facts, Cell("3.11", "12.1", "2.4.0"));
  ASSERT_TRUE(gives.ok()) << gives.status();
  EXPECT_EQ(*gives, "Python 3.11.9 (/opt/conda/bin/python3.11), torch 2.4.0+cu121 for CUDA 12.1");
  EXPECT_TRUE(CheckImageAgainstCell(facts, Cell("3.11", "12.1", "2.4")).ok());  // 2.4 is any 2.4.x
}

TEST(ImageCheckTest, AnImageWithoutTorchPassesAndSaysSo) {
  absl::StatusOr<std::string> gives =
      CheckImageAgainstCell(Facts("python=3.11.2\nexecutable=/usr/bin/python3.11\n"), Cell("3.11", "cpu", "2.4.0"));
  ASSERT_TRUE(gives.ok());
  EXPECT_THAT(*gives, HasSubstr("no torch: the build brings what it needs"));
}

TEST(ImageCheckTest, AnotherPythonTorchOrCudaFailsNamingBothValues) {
  const ImageFacts conda = Facts("python=3.11.9\nexecutable=/opt/conda/bin/python3\ntorch=2.4.0\ntorch_cuda=12.1\n");
  EXPECT_EQ(CheckImageAgainstCell(conda, Cell("3.12", "12.1", "2.4.0")).status().message(),
            "the image gives Python 3.11.9 (/opt/conda/bin/python3) but the cell asks for Python 3.12: use an "
            "image of that Python for it in pytorch_base_images");
  EXPECT_EQ(CheckImageAgainstCell(conda, Cell("3.11", "12.1", "2.5.1")).status().message(),
            "the image gives torch 2.4.0 but the cell asks for PyTorch 2.5.1");
  EXPECT_EQ(CheckImageAgainstCell(conda, Cell("3.11", "12.4", "2.4.0")).status().message(),
            "the image's torch 2.4.0 is built for CUDA 12.1 but the cell asks for CUDA 12.4");
  EXPECT_EQ(CheckImageAgainstCell(conda, Cell("3.11", "cpu", "2.4.0")).status().message(),
            "the image's torch 2.4.0 is built for CUDA 12.1 but the cell asks for cpu");
  const ImageFacts debian = Facts("python=3.11.2\ntorch=1.13.1\ntorch_cuda=None\n");  // Debian's python3-torch
  EXPECT_TRUE(CheckImageAgainstCell(debian, Cell("3.11", "cpu", "1.13.1")).ok());
  EXPECT_EQ(CheckImageAgainstCell(debian, Cell("3.11", "11.8", "1.13.1")).status().message(),
            "the image's torch 1.13.1 is built for no CUDA (CPU only) but the cell asks for CUDA 11.8");
  EXPECT_FALSE(CheckImageAgainstCell(Facts("python=3.1.0\n"), Cell("3.11", "cpu", "2.4")).ok());  // 3.1 is not 3.11
}

TEST(ImageCheckTest, ABrokenTorchOrNoPythonFails) {
  EXPECT_THAT(CheckImageAgainstCell(Facts("python=3.11.2\ntorch_error=ImportError: libcudart.so.12: cannot open\n"),
                                    Cell("3.11", "12.1", "2.4")).status().message(),
              HasSubstr("does not import: ImportError: libcudart.so.12"));
  EXPECT_THAT(CheckImageAgainstCell(Facts("python=\n"), Cell("3.11", "cpu", "2.4")).status().message(),
              HasSubstr("the image has no Python"));
  EXPECT_FALSE(ParseImageFacts("garbage").ok());
  EXPECT_EQ(Facts("python=3.11.2\nfuture_key=1\n").python, "3.11.2");  // unknown keys are ignored
}

}  // namespace
}  // namespace cwb
