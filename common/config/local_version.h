// The variant of a target as prebuilt CUDA wheels name it, and the local version labels cwb gives
// wheels (`local_version` in a config): "cu124torch2.5cxx11abiTRUE" in
// flash_attn-2.6.3+cu124torch2.5cxx11abiTRUE-cp312-cp312-linux_x86_64.whl.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/config/axes.h"

namespace cwb {

// The parts of a target's variant: "cu124" (or "cpu"), "torch2.5", then each extra axis as its
// name without underscores followed by its value ("cxx11abiTRUE"). The Python version is not one:
// a wheel's tags already say which Python it is for.
std::vector<std::string> VariantParts(const AxisValues& axes);

// `local_version: true`: the variant's parts run together, "cu124torch2.5cxx11abiTRUE".
inline constexpr char kDefaultLocalVersion[] = "{{variant}}";

// A label format (Mustache) parsed once and rendered for many targets. Its context: each axis by
// name (python_version, cuda_version, pytorch_version, extra axes), `cuda_tag` ("cu124", "cpu"),
// `torch_major_minor` ("2.5"), `python_tag` ("cp312") and `variant` (as above). Not thread-safe.
class LocalVersionTemplate {
 public:
  explicit LocalVersionTemplate(const std::string& format);
  ~LocalVersionTemplate();
  LocalVersionTemplate(LocalVersionTemplate&&) noexcept;

  // The label for `axes`; InvalidArgument when the format does not parse or renders something
  // that is not a local version label (letters, digits and '.').
  absl::StatusOr<std::string> Render(const AxisValues& axes);

 private:
  struct Parsed;
  std::unique_ptr<Parsed> parsed_;
};

}  // namespace cwb
