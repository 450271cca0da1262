// Collects every problem found in one pass over a config, each with its place, so a user sees
// all of them at once. Not thread-safe; one instance per parse.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace cwb {

// A place in a file; line and column are 1-based, 0 when unknown.
struct SourceLocation {
  std::string file;
  int line = 0;
  int column = 0;

  // "file:line:column", or just "file" when the position is unknown.
  std::string ToString() const;
};

struct Diagnostic {
  SourceLocation location;
  std::string key_path;  // e.g. "projects[1].repo_ref"; may be empty for whole-file problems
  std::string message;

  // "file:line:column: key_path: message"
  std::string ToString() const;
};

class Diagnostics {
 public:
  void Error(SourceLocation location, std::string key_path, std::string message);
  // Something that is allowed but is most likely a mistake (an exclude that matches nothing);
  // shown, and an error under --strict (PromoteWarnings).
  void Warning(SourceLocation location, std::string key_path, std::string message);
  // Every warning becomes an error, its message ending in `suffix`.
  void PromoteWarnings(const std::string& suffix);
  const std::vector<Diagnostic>& warnings() const { return warnings_; }
  // One "warning: ..." line per warning, each ending in a newline; "" without any.
  std::string WarningLines() const;

  bool empty() const { return errors_.empty(); }
  const std::vector<Diagnostic>& errors() const { return errors_; }

  // One line per error, in the order found.
  std::string ToString() const;
  // OK when empty; otherwise InvalidArgument carrying ToString().
  absl::Status ToStatus() const;

 private:
  std::vector<Diagnostic> errors_;
  std::vector<Diagnostic> warnings_;
};

}  // namespace cwb
