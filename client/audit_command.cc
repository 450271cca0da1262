#include "client/audit_command.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "agent/wheel_members.h"
#include "client/exit_codes.h"
#include "common/audit/library_search.h"
#include "common/audit/manylinux_policy.h"
#include "common/audit/wheel_audit.h"
#include "common/config/validate.h"
#include "common/rpc/task_proto.h"

namespace cwb {

namespace fs = std::filesystem;

int AuditCommand(const AuditOptions& options, std::ostream& out, std::ostream& err) {
  if (!options.platform_tag.empty()) {
    if (ValidationError error = ValidatePlatformTagSetting(options.platform_tag)) {
      err << "cwb audit: --platform-tag: " << *error << '\n';
      return kExitUsageError;
    }
  }
  std::string error;
  std::optional<audit::TargetPython> python = audit::ProbeTargetPython(options.python, &error);
  if (!python) {
    err << "cwb audit: --torch " << options.python << ": " << error << '\n';
    return kExitUsageError;
  }
  const audit::AuditTarget target{*python, audit::SystemLibraryDirs(), audit::FindDriverStub()};
  const fs::path scratch = fs::temp_directory_path() / absl::StrCat("cwb-audit-", ::getpid());
  struct Cleanup {
    fs::path dir;
    ~Cleanup() {
      std::error_code ignored;
      fs::remove_all(dir, ignored);
    }
  } cleanup{scratch};

  audit::ElfCache cache;
  v1::AuditReport report;
  bool all_passed = true;
  for (const std::string& wheel : options.wheels) {
    const fs::path dir = scratch / fs::path(wheel).filename();
    absl::StatusOr<int> extracted = ExtractElfMembers(wheel, dir);
    if (!extracted.ok()) {
      err << "cwb audit: " << wheel << ": " << extracted.status().message() << '\n';
      return kExitUsageError;
    }
    v1::WheelAudit audit = audit::AuditExtractedWheel(dir, fs::path(wheel).filename().string(), target, cache);
    const std::string refused = audit.passed() ? audit::DecidePlatformTag(options.platform_tag, audit.policy()).refusal : "";
    if (!audit.passed() || !refused.empty()) all_passed = false;
    if (!options.json) {
      for (const std::string& line : audit::FormatAudit(audit)) out << line << '\n';
      if (!refused.empty()) out << "  platform_tag " << options.platform_tag << " refused: " << refused << '\n';
    }
    *report.add_wheels() = std::move(audit);
  }
  if (options.json) out << ToJson(report) << '\n';
  return all_passed ? kExitSuccess : kExitSomeFailed;
}

}  // namespace cwb
