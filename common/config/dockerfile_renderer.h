// Renders a Dockerfile from a Mustache template and an image recipe, and derives the image's
// content hash and tag.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/config/axes.h"

namespace cwb {

// Everything a Dockerfile template may depend on.
struct ImageRecipe {
  std::string dockerfile_template;
  std::string template_origin;
  std::string base_image;
  AxisValues axes;  // python, cuda, torch, then extra axes
  std::vector<std::string> apt_packages;
  std::vector<std::string> pip_packages;
  bool compile_cache = true;  // the image gets ccache (from its package manager) if it lacks it
};

struct RenderedImage {
  std::string dockerfile;
  std::string content_hash;  // sha256 hex of `dockerfile`
  std::string tag;           // wheel-builder:py<VER>-cuda<VER>-<hash12>
};

// A template parsed once and rendered for many recipes (a matrix of thousands of targets). Not
// thread-safe: one per thread.
class DockerfileTemplate {
 public:
  DockerfileTemplate(const std::string& text, std::string origin);
  ~DockerfileTemplate();
  DockerfileTemplate(DockerfileTemplate&&) noexcept;
  // Renders `recipe`, whose template must be this one's text. Values are substituted as they are
  // (no HTML escaping): they were validated when the config was read. Fails with InvalidArgument
  // naming the template on a syntax error.
  absl::StatusOr<RenderedImage> Render(const ImageRecipe& recipe);

 private:
  struct Parsed;
  std::string origin_;
  std::unique_ptr<Parsed> parsed_;
};

// Parses recipe.dockerfile_template and renders `recipe` (see DockerfileTemplate::Render).
absl::StatusOr<RenderedImage> RenderDockerfile(const ImageRecipe& recipe);

// "wheel-builder:py3.10-cuda12.1-0123456789ab": the seed's tag naming plus the content hash.
std::string ImageTag(const AxisValues& axes, const std::string& content_hash);

// "cu121" for cuda 12.1, "cpu" for cpu: the label flash-attention uses in wheel versions.
std::string CudaTag(const std::string& cuda_version);

}  // namespace cwb
