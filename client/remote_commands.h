// The CLI commands that talk to a coordinator. Each returns the exit status (0 all succeeded, 1 some failed, 2 usage or config
// error) and writes only to the streams it is given.
#pragma once

#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/connection.h"
#include "cwb/v1/client.pb.h"
#include "common/base/cancellation.h"

namespace cwb {

struct RemoteOptions {
  ConnectionSettings connection;  // resolved (ResolveConnection) by the caller
  bool json = false;
  bool terminal = false;  // render live views for a terminal
  bool no_cache = false;  // submit: build every task, reusing no earlier result
  bool index = false;     // fetch: also write the static pip index DIR/simple/
  bool strict = false;    // submit: a combination no PyTorch release supports is an error
  // submit: a built wheel whose smoke test needs a GPU no connected agent has is published untested.
  bool allow_untested = false;
  // watch: also end once the build is settled (nothing more can run without another agent): what
  // `cwb build` does on its one machine.
  bool end_when_settled = false;
  // Where a task's whole log is on this machine (`cwb build`'s own coordinator): a failed task's
  // summary line is followed by it; empty: by the `cwb logs` command that reads it.
  std::function<std::string(const std::string& build_id, const std::string& task_id)> local_log_path;
};

// The config at `config_path` planned here (its errors name file:line:column) as the SubmitBuild
// request `cwb submit` sends to options.connection.coordinator. Relative repository paths are
// resolved against the config's directory; a repository on this machine's disk (a path or a
// file:// URL) is an error unless that coordinator is on this machine (a loopback address).
// Nothing is sent. The plan's warnings (an exclude that matches nothing, ...) go to `warnings`.
absl::StatusOr<v1::SubmitBuildRequest> MakeSubmitRequest(const std::string& config_path, const RemoteOptions& options,
                                                         std::ostream& warnings);

// `build_id` (may be null) receives the new build's id.
int SubmitCommand(const RemoteOptions& options, const std::string& config_path, bool watch,
                  std::ostream& out, std::ostream& err, std::string* build_id = nullptr);
int WatchCommand(const RemoteOptions& options, const std::string& build_id, std::ostream& out,
                 std::ostream& err);
int StatusCommand(const RemoteOptions& options, const std::string& build_id, std::ostream& out,
                  std::ostream& err);
// Control characters in the log are shown escaped unless `raw`.
// `tail_lines` > 0: only the log's last lines (then, with `follow`, what comes).
int LogsCommand(const RemoteOptions& options, const std::string& build_id,
                const std::string& task_id, bool follow, bool raw, uint32_t tail_lines, std::ostream& out,
                std::ostream& err);
int FetchCommand(const RemoteOptions& options, const std::string& build_id,
                 const std::string& output_dir, std::ostream& out, std::ostream& err);
int CancelCommand(const RemoteOptions& options, const std::string& build_id,
                  const std::string& task_id, std::ostream& out, std::ostream& err);
int RetryCommand(const RemoteOptions& options, const std::string& build_id,
                 const std::vector<std::string>& task_ids, std::ostream& out, std::ostream& err);
int AgentsCommand(const RemoteOptions& options, std::ostream& out, std::ostream& err);

}  // namespace cwb
