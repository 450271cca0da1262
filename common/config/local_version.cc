#include "common/config/local_version.h"

#include <kainjow/mustache.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "common/config/dockerfile_renderer.h"
#include "common/config/validate.h"
#include "common/config/versions.h"

namespace cwb {
namespace {

namespace mustache = kainjow::mustache;

// "2.5.1" -> "2.5"; as written when it is not a version.
std::string TorchMajorMinor(const std::string& version) {
  int major = 0, minor = 0;
  if (!ParseMajorMinor(version, &major, &minor)) return version;
  return absl::StrCat(major, ".", minor);
}

}  // namespace

std::vector<std::string> VariantParts(const AxisValues& axes) {
  std::vector<std::string> parts;
  if (std::optional<std::string> cuda = FindAxis(axes, kCudaAxis)) parts.push_back(CudaTag(*cuda));
  if (std::optional<std::string> torch = FindAxis(axes, kTorchAxis)) {
    parts.push_back(absl::StrCat("torch", TorchMajorMinor(*torch)));
  }
  for (const auto& [name, value] : axes) {
    if (IsRequiredAxis(name)) continue;
    parts.push_back(absl::StrCat(absl::StrReplaceAll(name, {{"_", ""}}), value));
  }
  return parts;
}

struct LocalVersionTemplate::Parsed {
  explicit Parsed(const std::string& text) : tmpl(text) {
    tmpl.set_custom_escape([](const std::string& s) { return s; });
  }
  mustache::mustache tmpl;
};

LocalVersionTemplate::LocalVersionTemplate(const std::string& format)
    : parsed_(std::make_unique<Parsed>(format)) {}
LocalVersionTemplate::~LocalVersionTemplate() = default;
LocalVersionTemplate::LocalVersionTemplate(LocalVersionTemplate&&) noexcept = default;

absl::StatusOr<std::string> LocalVersionTemplate::Render(const AxisValues& axes) {
  mustache::mustache& tmpl = parsed_->tmpl;
  if (!tmpl.is_valid()) return absl::InvalidArgumentError(tmpl.error_message());
  mustache::data context;
  for (const auto& [name, value] : axes) context.set(name, value);
  const std::string& cuda = AxisOrEmpty(axes, kCudaAxis);
  context.set("cuda_tag", cuda.empty() ? "" : CudaTag(cuda));
  context.set("torch_major_minor", TorchMajorMinor(AxisOrEmpty(axes, kTorchAxis)));
  context.set("python_tag", absl::StrCat("cp", absl::StrReplaceAll(AxisOrEmpty(axes, kPythonAxis), {{".", ""}})));
  context.set("variant", absl::StrJoin(VariantParts(axes), ""));
  std::string label = tmpl.render(context);
  if (!tmpl.is_valid()) return absl::InvalidArgumentError(tmpl.error_message());
  if (ValidateLocalVersionLabel(label)) {
    return absl::InvalidArgumentError(absl::StrCat("renders '", label, "' for ", FormatAxes(axes),
                                                   ", which is not a local version label (letters, digits "
                                                   "and '.', at most 100, e.g. cu124torch2.5)"));
  }
  return label;
}

}  // namespace cwb
