#include "common/config/dockerfile_renderer.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/base/atomic_file.h"
#include "common/config/builtin_template.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cwb {
namespace {

// Golden files live in tests/fixtures/golden; CWB_UPDATE_GOLDEN=1 rewrites them.
void ExpectGolden(const std::string& name, const std::string& actual) {
  const std::filesystem::path path =
      std::filesystem::path(CWB_SOURCE_DIR) / "tests/fixtures/golden" / name;
  if (std::getenv("CWB_UPDATE_GOLDEN") != nullptr) {
    ASSERT_TRUE(WriteFileAtomically(path, actual).ok());
    return;
  }
  std::ifstream in(path);
  ASSERT_TRUE(in) << "missing golden file " << path << " (run with CWB_UPDATE_GOLDEN=1)";
  std::stringstream expected;
  expected << in.rdbuf();
  EXPECT_EQ(actual, expected.str()) << "golden file " << path << " differs";
}

ImageRecipe CudaRecipe() {
  return {std::string(BuiltinDockerfileTemplate()),
          "builtin",
          "pytorch/pytorch:2.3.0-cuda12.1-cudnn8-devel",
          {{"python_version", "3.10"}, {"cuda_version", "12.1"}, {"pytorch_version", "2.3.0"}},
          {"git", "ninja-build"},
          {"packaging>=23", "wheel"}};
}

TEST(DockerfileRendererTest, BuiltinTemplateWithPackagesMatchesGolden) {
  absl::StatusOr<RenderedImage> image = RenderDockerfile(CudaRecipe());
  ASSERT_TRUE(image.ok()) << image.status();
  ExpectGolden("cuda-with-packages.Dockerfile", image->dockerfile);
  // No HTML escaping of requirement specifiers.
  EXPECT_THAT(image->dockerfile, ::testing::HasSubstr("'packaging>=23'"));
}

TEST(DockerfileRendererTest, BuiltinTemplateCpuWithoutPackagesMatchesGolden) {
  ImageRecipe recipe = CudaRecipe();
  recipe.base_image = "localhost/cwb-base:bookworm";
  recipe.axes = {{"python_version", "3.11"}, {"cuda_version", "cpu"}, {"pytorch_version", "2.4.0"}};
  recipe.apt_packages.clear();
  recipe.pip_packages.clear();
  absl::StatusOr<RenderedImage> image = RenderDockerfile(recipe);
  ASSERT_TRUE(image.ok()) << image.status();
  ExpectGolden("cpu-minimal.Dockerfile", image->dockerfile);
}

TEST(DockerfileRendererTest, CustomTemplateSeesExtraAxesAndDerivedValues) {
  ImageRecipe recipe = CudaRecipe();
  recipe.axes.emplace_back("cxx11_abi", "TRUE");
  recipe.dockerfile_template =
      "FROM {{base_image}}\n# {{cuda_tag}} abi={{cxx11_abi}}{{#is_cpu}} cpu{{/is_cpu}}\n"
      "{{#axes}}ENV AXIS_{{name}}={{value}}\n{{/axes}}";
  absl::StatusOr<RenderedImage> image = RenderDockerfile(recipe);
  ASSERT_TRUE(image.ok()) << image.status();
  EXPECT_EQ(image->dockerfile,
            "FROM pytorch/pytorch:2.3.0-cuda12.1-cudnn8-devel\n# cu121 abi=TRUE\n"
            "ENV AXIS_python_version=3.10\nENV AXIS_cuda_version=12.1\n"
            "ENV AXIS_pytorch_version=2.3.0\nENV AXIS_cxx11_abi=TRUE\n");
}

TEST(DockerfileRendererTest, HashAndTagFollowTheRenderedText) {
  absl::StatusOr<RenderedImage> a = RenderDockerfile(CudaRecipe());
  ImageRecipe changed = CudaRecipe();
  changed.apt_packages.push_back("ccache");
  absl::StatusOr<RenderedImage> b = RenderDockerfile(changed);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->content_hash.size(), 64u);
  EXPECT_NE(a->content_hash, b->content_hash);
  EXPECT_EQ(a->tag, "wheel-builder:py3.10-cuda12.1-" + a->content_hash.substr(0, 12));
  EXPECT_EQ(RenderDockerfile(CudaRecipe())->content_hash, a->content_hash);
}

TEST(DockerfileRendererTest, SyntaxErrorNamesTheTemplate) {
  ImageRecipe recipe = CudaRecipe();
  recipe.dockerfile_template = "FROM {{#base_image}}\n";
  recipe.template_origin = "my.template";
  absl::StatusOr<RenderedImage> image = RenderDockerfile(recipe);
  ASSERT_FALSE(image.ok());
  EXPECT_THAT(std::string(image.status().message()), ::testing::StartsWith("template my.template: "));
}

TEST(DockerfileRendererTest, CudaTag) {
  EXPECT_EQ(CudaTag("12.1"), "cu121");
  EXPECT_EQ(CudaTag("11.8.0"), "cu118");
  EXPECT_EQ(CudaTag("cpu"), "cpu");
}

}  // namespace
}  // namespace cwb
