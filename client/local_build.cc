#include "client/local_build.h"

#include <sstream>
#include <thread>

#include "agent/serve_command.h"
#include "agent/watchdog_command.h"
#include "client/exit_codes.h"
#include "client/remote_commands.h"
#include "common/base/clock.h"
#include "common/base/digest.h"
#include "common/config/config_parser.h"
#include "common/rpc/auth.h"
#include "coordinator/server.h"

namespace cwb {

namespace fs = std::filesystem;

int LocalBuildCommand(const LocalBuildOptions& options, Cancellation& interrupt, std::ostream& out,
                      std::ostream& err) {
  ForgetTokenVariables();  // builds (the host runtime's inherit the environment) never see a token
  absl::StatusOr<Config> config = LoadConfigFile(options.config_path);
  if (!config.ok()) {
    err << config.status().message() << '\n';
    return kExitUsageError;
  }
  const fs::path output = options.output_dir.empty() ? config->output_dir : fs::path(options.output_dir);
  const fs::path state = output / ".cwb";

  // The same code paths as a cluster: a coordinator on a loopback port and an agent dialing it.
  // Each side has a token of this run's own, held in this process only: a build (they run on
  // the host's network) cannot reach the coordinator's client API or pose as the agent.
  const std::string client_token = RandomSecretHex(32), agent_token = RandomSecretHex(32);
  ServerOptions server_options;
  server_options.listen = "127.0.0.1:0";
  if (absl::Status s = server_options.tokens.Add(client_token, {"cwb-build", Role::kAdmin}); !s.ok()) {
    err << "cwb: " << s.message() << '\n';
    return kExitSomeFailed;
  }
  if (absl::Status s = server_options.tokens.Add(agent_token, {"agent", Role::kAgent}); !s.ok()) {
    err << "cwb: " << s.message() << '\n';
    return kExitSomeFailed;
  }
  server_options.coordinator.data_dir = state / "coordinator";
  absl::StatusOr<std::unique_ptr<CoordinatorServer>> server =
      CoordinatorServer::Start(server_options, SystemClock::Get());
  if (!server.ok()) {
    err << "cwb: cannot start the coordinator: " << server.status().message() << '\n';
    return kExitSomeFailed;
  }
  ServeOptions serve;
  serve.coordinator = (*server)->address();
  serve.token = agent_token;
  serve.slots = options.slots;
  serve.gpus_per_task = options.gpus_per_task;
  serve.runtime.name = options.runtime;
  serve.runtime.host_python = options.host_python;
  serve.runtime.engine.network = options.network;
  serve.pipeline.work_dir = state / "agent";
  serve.pipeline.keep_failed_workspace = options.keep_failed;
  serve.pipeline.watchdog_command = {SelfExecutable()};
  Cancellation stop_agent;
  std::ostringstream agent_out;
  std::thread agent([&] { ServeCommand(serve, stop_agent, agent_out, err); });

  RemoteOptions remote;
  remote.connection.coordinator = (*server)->address();
  remote.connection.token = client_token;
  remote.terminal = options.terminal;
  remote.no_cache = options.no_cache;
  remote.index = options.index;
  remote.strict = options.strict;
  remote.allow_untested = options.allow_untested;
  remote.end_when_settled = true;
  remote.local_log_path = [logs = fs::absolute(Coordinator::LogsDir(server_options.coordinator.data_dir))](
                              const std::string& build_id, const std::string& task_id) {
    return LogStore::PathIn(logs, build_id, task_id).string();
  };
  // Ctrl-C cancels every unfinished task of whatever this process submitted; the watch below then
  // ends as usual.
  Cancellation done;
  std::thread canceller([&] {
    WaitForAny(interrupt, done);
    if (done.cancelled()) return;
    err << "cwb: " << interrupt.reason() << ": cancelling the build\n";
    CoordinatorConnection connection(remote.connection);
    v1::ListBuildsResponse builds;
    connection.stub().ListBuilds(connection.Context().get(), v1::ListBuildsRequest(), &builds);
    for (const v1::BuildInfo& build : builds.builds()) {
      v1::CancelRequest request;
      request.set_build_id(build.build_id());
      v1::CancelResponse response;
      connection.stub().Cancel(connection.Context().get(), request, &response);
    }
  });
  std::string build_id;
  int code = SubmitCommand(remote, options.config_path, /*watch=*/true, out, err, &build_id);
  done.Cancel("watch ended");
  canceller.join();
  if (!build_id.empty()) {
    code = std::max(code, FetchCommand(remote, build_id, output.string(), out, err));
  }
  stop_agent.Cancel("the build is over");
  agent.join();
  (*server)->Shutdown();
  return code;
}

}  // namespace cwb
