// Reads a YAML build config into a Config. Every problem is collected into Diagnostics with its
// file:line:column and key path; parsing goes on after an error so all problems are reported at
// once. Pure with respect to the file system except LoadConfigFile, which reads the config and
// the Dockerfile template it names.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "common/config/config.h"
#include "common/config/diagnostics.h"

namespace cwb {

// The largest config (and Dockerfile template) read; a larger one is refused before parsing.
inline constexpr size_t kMaxConfigBytes = 1 << 20;

// Parses `text` (named `file_name` in messages). Returns the config when no error was found;
// otherwise nullopt with the errors in `diagnostics`. Paths are left as written and the template
// is not read.
std::optional<Config> ParseConfig(std::string_view text, const std::string& file_name,
                                  Diagnostics& diagnostics);

// Reads and parses `path`, resolves output_dir_host, dockerfile_template and "./" or "../"
// repo_urls relative to the config's directory, and reads the template (the built-in one when none is named).
// On failure the status message lists every error, one per line.
absl::StatusOr<Config> LoadConfigFile(const std::filesystem::path& path);

// Same, for text that did not come from a file (e.g. a config received over RPC); relative
// paths resolve against `base_dir`. `template_text`, when given, is the text of the template the
// config names (read by the client), so the template file is not read here.
absl::StatusOr<Config> LoadConfigText(std::string_view text, const std::string& file_name,
                                      const std::filesystem::path& base_dir,
                                      std::optional<std::string> template_text = std::nullopt);

}  // namespace cwb
