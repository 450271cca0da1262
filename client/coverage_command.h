// `cwb coverage`: a config's matrix with each cell built (with its wheel), failed (with the
// reason), missing, or unsupported by every PyTorch release, and the totals; as a table, JSON
// (v1.CoverageReport) or Markdown for a README. The results come from a wheelhouse's manifest
// (what `cwb fetch` and `cwb build` wrote there) or from a coordinator's build.
#pragma once

#include <ostream>
#include <string>

#include "client/remote_commands.h"

namespace cwb {

struct CoverageOptions {
  std::string config_path;
  std::string wheelhouse;  // empty: <output_dir_host>/wheelhouse
  std::string build_id;    // set: the results of this build on the coordinator instead
  std::string format = "table";  // table, json or markdown
};

// Exit status 0 when every supported cell is built, 1 when some failed or are missing, 2 for a
// bad config or an unknown build. `remote` is used only with a build id.
int CoverageCommand(const CoverageOptions& options, const RemoteOptions& remote, std::ostream& out,
                    std::ostream& err);

}  // namespace cwb
