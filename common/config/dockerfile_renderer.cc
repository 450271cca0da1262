#include "common/config/dockerfile_renderer.h"

#include <kainjow/mustache.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/base/digest.h"

namespace cwb {

namespace mustache = kainjow::mustache;

std::string CudaTag(const std::string& cuda_version) {
  if (cuda_version == kCpuCuda) return "cpu";
  // "12.1" -> "cu121", "11.8.0" -> "cu118" (the patch level is not part of the label).
  std::string major_minor = cuda_version.substr(0, cuda_version.find('.', cuda_version.find('.') + 1));
  return absl::StrCat("cu", absl::StrReplaceAll(major_minor, {{".", ""}}));
}

std::string ImageTag(const AxisValues& axes, const std::string& content_hash) {
  return absl::StrCat("wheel-builder:py", AxisOrEmpty(axes, kPythonAxis), "-cuda",
                      AxisOrEmpty(axes, kCudaAxis), "-", content_hash.substr(0, 12));
}

struct DockerfileTemplate::Parsed {
  explicit Parsed(const std::string& text) : tmpl(text) {
    tmpl.set_custom_escape([](const std::string& s) { return s; });
  }
  mustache::mustache tmpl;
};

DockerfileTemplate::DockerfileTemplate(const std::string& text, std::string origin)
    : origin_(std::move(origin)), parsed_(std::make_unique<Parsed>(text)) {}

DockerfileTemplate::~DockerfileTemplate() = default;
DockerfileTemplate::DockerfileTemplate(DockerfileTemplate&&) noexcept = default;

absl::StatusOr<RenderedImage> RenderDockerfile(const ImageRecipe& recipe) {
  return DockerfileTemplate(recipe.dockerfile_template, recipe.template_origin).Render(recipe);
}

absl::StatusOr<RenderedImage> DockerfileTemplate::Render(const ImageRecipe& recipe) {
  mustache::mustache& tmpl = parsed_->tmpl;
  if (!tmpl.is_valid()) {
    return absl::InvalidArgumentError(absl::StrCat("template ", origin_, ": ", tmpl.error_message()));
  }

  mustache::data context;
  context.set("template_origin", recipe.template_origin);
  context.set("base_image", recipe.base_image);
  mustache::data axes{mustache::data::type::list};
  for (const auto& [name, value] : recipe.axes) {
    context.set(name, value);
    mustache::data axis;
    axis.set("name", name);
    axis.set("value", value);
    axes.push_back(axis);
  }
  context.set("axes", axes);
  auto list = [](const std::vector<std::string>& items) {
    mustache::data out{mustache::data::type::list};
    for (const std::string& item : items) out.push_back(mustache::data{item});
    return out;
  };
  auto flag = [](bool b) {
    return mustache::data{b ? mustache::data::type::bool_true : mustache::data::type::bool_false};
  };
  const std::string& cuda = AxisOrEmpty(recipe.axes, kCudaAxis);
  context.set("is_cpu", flag(cuda == kCpuCuda));
  context.set("cuda_tag", CudaTag(cuda));
  context.set("apt_packages", list(recipe.apt_packages));
  context.set("pip_packages", list(recipe.pip_packages));
  context.set("has_apt_packages", flag(!recipe.apt_packages.empty()));
  context.set("has_pip_packages", flag(!recipe.pip_packages.empty()));
  context.set("compile_cache", flag(recipe.compile_cache));

  RenderedImage image;
  image.dockerfile = tmpl.render(context);
  if (!tmpl.is_valid()) {
    return absl::InvalidArgumentError(absl::StrCat("template ", origin_, ": ", tmpl.error_message()));
  }
  image.content_hash = Sha256Hex(image.dockerfile);
  image.tag = ImageTag(recipe.axes, image.content_hash);
  return image;
}

}  // namespace cwb
