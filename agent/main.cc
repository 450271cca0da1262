// cwb-agent: builds tasks in containers on a GPU host. Subcommands live in *_command.cc.
#include <iostream>

#include "agent/run_task_command.h"
#include "agent/serve_command.h"
#include "common/command_line.h"


int main(int argc, char** argv) {
  CLI::App app{"cwb-agent: builds CUDA wheel tasks in docker or podman containers"};
  app.set_version_flag("--version", std::string("cwb-agent ") + CWB_VERSION);
  app.require_subcommand(1);

  cwb::RunTaskOptions run;
  int time_limit = 0, stop_grace = 30;
  CLI::App* run_cmd = app.add_subcommand(
      "run-task", "Build one task here, without a coordinator (for debugging a recipe)\n"
                  "  example: cwb plan --json c.yaml > plan.json && cwb-agent run-task plan.json --task 3f2a");
  run_cmd->add_option("task", run.task_file, "TaskSpec JSON, or a plan from `cwb plan --json`")->required();
  run_cmd->add_option("--task", run.task_id, "Task id (or unique prefix) when the file is a plan");
  run_cmd->add_option("--runtime", run.runtime, "Container engine: podman or docker")->capture_default_str();
  run_cmd->add_option("--runtime-binary", run.engine.binary, "Path of the engine's CLI");
  run_cmd->add_option("--network", run.engine.network, "Network mode for builds (e.g. host)");
  run_cmd->add_option("--run-arg", run.engine.extra_run_args, "Extra argument for `run` (repeatable)");
  run_cmd->add_option("--work-dir", run.pipeline.work_dir, "Agent work directory")->required();
  run_cmd->add_option("-o,--output", run.output_dir, "Output directory: wheels go to DIR/wheelhouse/py<VER>/cuda<VER>/<platform>/")->capture_default_str();
  run_cmd->add_option("--gpus", run.gpus, "GPUs: all, none, or ids like 0,1")->capture_default_str();
  run_cmd->add_flag("--no-init", [&run](int64_t) { run.engine.init = false; }, "Do not run an init process as PID 1");
  run_cmd->add_flag("--keep-failed", run.pipeline.keep_failed_workspace, "Keep the workspace of a failed build");
  run_cmd->add_option("--time-limit", time_limit, "Seconds before the build is stopped (0: none)");
  run_cmd->add_option("--stop-grace", stop_grace, "Seconds between SIGTERM and SIGKILL")->capture_default_str();
  run_cmd->add_option("--max-jobs", run.pipeline.max_jobs, "MAX_JOBS default (0: from cores and memory)");
  run_cmd->add_option("--secret-env", run.secret_env,
                      "An environment variable builds may receive as a secret_env (repeatable)");

  cwb::ProbeOptions probe;
  CLI::App* probe_cmd = app.add_subcommand("probe", "Print this host's GPUs, driver and resources\n"
                                                    "  example: cwb-agent probe --json");
  probe_cmd->add_flag("--json", probe.json, "Print JSON");
  probe_cmd->add_option("--nvidia-smi", probe.nvidia_smi, "nvidia-smi binary")->capture_default_str();

  cwb::ServeOptions serve;
  int serve_time_limit = 0, serve_stop_grace = 30;
  CLI::App* serve_cmd = app.add_subcommand(
      "serve", "Connect to a coordinator and build the tasks it assigns\n"
               "  example: cwb-agent serve --coordinator 127.0.0.1:7600 --work-dir /var/lib/cwb-agent --slots 2");
  serve_cmd->add_option("--coordinator", serve.coordinator, "Coordinator host:port")->capture_default_str();
  serve_cmd->add_option("--agent-id", serve.agent_id, "Identity (default: kept in WORK_DIR/agent-id)");
  serve_cmd->add_option("--label", serve.labels, "A label tasks may require (repeatable)");
  serve_cmd->add_option("--slots", serve.slots, "Tasks to run at once")->capture_default_str();
  serve_cmd->add_option("--runtime", serve.runtime, "Container engine: podman or docker")->capture_default_str();
  serve_cmd->add_option("--runtime-binary", serve.engine.binary, "Path of the engine's CLI");
  serve_cmd->add_option("--network", serve.engine.network, "Network mode for builds (e.g. host)");
  serve_cmd->add_option("--run-arg", serve.engine.extra_run_args, "Extra argument for `run` (repeatable)");
  serve_cmd->add_option("--work-dir", serve.pipeline.work_dir, "Agent work directory")->required();
  serve_cmd->add_flag("--keep-failed", serve.pipeline.keep_failed_workspace, "Keep failed workspaces");
  serve_cmd->add_option("--time-limit", serve_time_limit, "Seconds a build may run (0: none)");
  serve_cmd->add_option("--stop-grace", serve_stop_grace, "Seconds between SIGTERM and SIGKILL")->capture_default_str();
  serve_cmd->add_option("--max-jobs", serve.pipeline.max_jobs, "MAX_JOBS default (0: from cores and memory)");
  serve_cmd->add_option("--nvidia-smi", serve.nvidia_smi, "nvidia-smi binary")->capture_default_str();
  serve_cmd->add_option("--secret-env", serve.secret_env,
                        "An environment variable builds may receive as a secret_env (repeatable)");
  serve_cmd->add_option("--token-file", serve.token_file, "File holding the agent token (else $CWB_AGENT_TOKEN)");
  serve_cmd->add_option("--tls-ca", serve.tls.ca_file, "PEM CA of the coordinator's certificate (enables TLS)");
  serve_cmd->add_option("--tls-cert", serve.tls.cert_file, "PEM client certificate (mutual TLS)");
  serve_cmd->add_option("--tls-key", serve.tls.key_file, "PEM private key of --tls-cert");

  if (std::optional<int> exit = cwb::ParseCommandLine(app, argc, argv)) return *exit;
  if (run_cmd->parsed()) {
    run.pipeline.time_limit = std::chrono::seconds(time_limit);
    run.pipeline.stop_grace = std::chrono::seconds(stop_grace);
    cwb::Cancellation cancel;
    cwb::CancelOnSignals(cancel);
    return cwb::RunTaskCommand(run, cancel, std::cout, std::cerr);
  }
  if (probe_cmd->parsed()) return cwb::ProbeCommand(probe, std::cout, std::cerr);
  if (serve_cmd->parsed()) {
    serve.pipeline.time_limit = std::chrono::seconds(serve_time_limit);
    serve.pipeline.stop_grace = std::chrono::seconds(serve_stop_grace);
    cwb::Cancellation stop;
    cwb::CancelOnSignals(stop);
    return cwb::ServeCommand(serve, stop, std::cout, std::cerr);
  }
  return 2;
}
