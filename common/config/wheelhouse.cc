#include "common/config/wheelhouse.h"

#include <regex>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/escaping.h"

namespace cwb {

absl::StatusOr<WheelName> ParseWheelFilename(std::string_view filename) {
  const std::string name(filename);
  // Every component is [A-Za-z0-9_.+!] (the version may hold '+' and '!'); no '/', no "..".
  static const std::regex kPattern(
      R"(([A-Za-z0-9](?:[A-Za-z0-9_.]*[A-Za-z0-9])?)-([A-Za-z0-9_.!+]+)(?:-([0-9][A-Za-z0-9_.]*))?-([A-Za-z0-9_.]+)-([A-Za-z0-9_.]+)-([A-Za-z0-9_.]+)\.whl)");
  std::smatch match;
  if (name.size() > 255 || name.find("..") != std::string::npos ||
      !std::regex_match(name, match, kPattern)) {
    return absl::InvalidArgumentError(absl::StrCat("'", absl::CEscape(name), "' is not a valid wheel filename"));
  }
  return WheelName{match[1], match[2], match[3], match[4], match[5], match[6]};
}

std::string WheelFilename(const WheelName& name) {
  return absl::StrCat(name.distribution, "-", name.version, name.build.empty() ? "" : "-", name.build, "-",
                      name.python_tag, "-", name.abi_tag, "-", name.platform_tag, ".whl");
}

std::filesystem::path WheelhouseDir(const std::filesystem::path& output_dir,
                                    std::string_view python_version, std::string_view cuda_version,
                                    std::string_view platform_tag) {
  return output_dir / "wheelhouse" /
         absl::StrCat("py", absl::StrReplaceAll(std::string(python_version), {{".", ""}})) /
         absl::StrCat("cuda", std::string(cuda_version)) / std::string(platform_tag);
}

}  // namespace cwb
