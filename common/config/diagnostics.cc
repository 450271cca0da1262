#include "common/config/diagnostics.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace cwb {

std::string SourceLocation::ToString() const {
  if (line <= 0) return file;
  return absl::StrCat(file, ":", line, ":", column);
}

std::string Diagnostic::ToString() const {
  if (key_path.empty()) return absl::StrCat(location.ToString(), ": ", message);
  return absl::StrCat(location.ToString(), ": ", key_path, ": ", message);
}

void Diagnostics::Error(SourceLocation location, std::string key_path, std::string message) {
  errors_.push_back({std::move(location), std::move(key_path), std::move(message)});
}

void Diagnostics::Warning(SourceLocation location, std::string key_path, std::string message) {
  warnings_.push_back({std::move(location), std::move(key_path), std::move(message)});
}

void Diagnostics::PromoteWarnings(const std::string& suffix) {
  for (Diagnostic& warning : warnings_) {
    warning.message += suffix;
    errors_.push_back(std::move(warning));
  }
  warnings_.clear();
}

std::string Diagnostics::WarningLines() const {
  std::string out;
  for (const Diagnostic& warning : warnings_) absl::StrAppend(&out, "warning: ", warning.ToString(), "\n");
  return out;
}

std::string Diagnostics::ToString() const {
  return absl::StrJoin(errors_, "\n", [](std::string* out, const Diagnostic& d) {
    out->append(d.ToString());
  });
}

absl::Status Diagnostics::ToStatus() const {
  if (errors_.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(ToString());
}

}  // namespace cwb
