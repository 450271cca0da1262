// `cwb audit WHEEL... [--torch PYTHON]`: the release gate's check (common/audit) of wheels from
// anywhere, against the torch of PYTHON on this machine (default python3): every ELF file's
// undefined symbols resolved as its import would, and the manylinux policy each wheel satisfies;
// with --platform-tag, whether the gate would give that tag. The wheels are read, never changed.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace cwb {

struct AuditOptions {
  std::vector<std::string> wheels;
  std::string python = "python3";
  std::string platform_tag;  // "", "manylinux" or "manylinux_2_X": checked as the gate would
  bool json = false;         // print cwb.v1.AuditReport
};

// 0 when every wheel passed (and gets the platform tag asked for), 1 when one did not, 2 when a
// wheel cannot be read or the Python cannot be probed.
int AuditCommand(const AuditOptions& options, std::ostream& out, std::ostream& err);

}  // namespace cwb
