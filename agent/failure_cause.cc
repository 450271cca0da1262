#include "agent/failure_cause.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "re2/re2.h"

namespace cwb {
namespace {

// Rank 0: lines that name the cause themselves.
const RE2& SpecificPattern() {
  static const RE2 pattern(
      "^[^\\s:]+:\\d+(:\\d+)?: (fatal )?error: "     // gcc/clang: file:line:col: error:
      "|^[^\\s(]+\\(\\d+\\): (catastrophic )?error"  // nvcc: file.cu(12): error
      "|^\\S+: fatal error: "                          // c++: fatal error: Killed signal ...
      "|^nvcc (fatal|error)\\s*: "
      "|undefined reference to |\\bld(\\.\\w+)?: cannot find |undefined symbol: "
      "|^(\\w+\\.)*\\w*(Error|Exception): \\S"        // a Python exception's last line
      "|configuration error: "                         // setuptools' pyproject validation
      "|^E: ");                                        // apt
  return pattern;
}

// Rank 1: lines that say something failed, less precisely.
const RE2& GenericPattern() {
  static const RE2 pattern("^(ERROR|Error|error|FATAL|fatal): |^\\s*error: |collect2: error: ");
  return pattern;
}

// Whether `line` holds what every pattern above needs: a colon and one of these words. Most build
// output (compiler command lines, progress) does not, and is passed over without running the
// patterns: a build's log can be millions of lines.
bool MayBeACause(std::string_view line) {
  if (line.find(':') == std::string_view::npos) return false;
  static constexpr std::string_view kWords[] = {"rror", "RROR", "atal", "ATAL", "nvcc", "undefined",
                                                "cannot find", "xception", "E: "};
  for (std::string_view word : kWords) {
    if (line.find(word) != std::string_view::npos) return true;
  }
  return false;
}

// Causes are looked for only in what the step's own processes printed.
std::string_view StepOf(std::string_view source) {
  const std::string_view step = source.substr(0, source.find(':'));
  return step == "build" || step == "image" || step == "test" ? step : std::string_view();
}

}  // namespace

void FailureCauseFinder::Add(std::string_view source, std::string_view text) {
  const std::string_view step = StepOf(source);
  if (step.empty()) return;
  std::string_view line = text;
  while (!line.empty() && absl::ascii_isspace(static_cast<unsigned char>(line.front()))) line.remove_prefix(1);
  while (!line.empty() && absl::ascii_isspace(static_cast<unsigned char>(line.back()))) line.remove_suffix(1);
  if (line.empty() || !MayBeACause(line)) return;
  int rank = -1;
  if (RE2::PartialMatch(re2::StringPiece(line.data(), line.size()), SpecificPattern())) {
    rank = 0;
  } else if (RE2::PartialMatch(re2::StringPiece(line.data(), line.size()), GenericPattern())) {
    rank = 1;
  } else {
    return;
  }
  auto it = steps_.find(step);
  if (it == steps_.end()) it = steps_.emplace(std::string(step), Candidates{}).first;
  std::vector<std::string>& kept = it->second.by_rank[rank];
  if (kept.size() >= kLinesKept) return;
  std::string shown = Shorten(line, kMaxLineChars);
  for (const std::string& already : kept) {
    if (already == shown) return;  // the same error repeated (one per translation unit, say)
  }
  kept.push_back(std::move(shown));
}

std::string FailureCauseFinder::Cause(std::string_view step) const {
  auto it = steps_.find(step);
  if (it == steps_.end()) return "";
  for (const std::vector<std::string>& lines : it->second.by_rank) {
    if (lines.empty()) continue;
    return Shorten(absl::StrJoin(lines, " | "), kMaxCauseChars);
  }
  return "";
}

std::string Shorten(std::string_view text, size_t n) {
  if (text.size() <= n) return std::string(text);
  while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xc0) == 0x80) --n;
  return std::string(text.substr(0, n)) + "...";
}

std::string WithCause(std::string message, const std::string& cause) {
  if (cause.empty() || message.find(cause) != std::string::npos) return message;
  return absl::StrCat(message, ": ", cause);
}

}  // namespace cwb
