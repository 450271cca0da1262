// cwb: the client CLI. Subcommands live in *_commands.cc; this file only wires CLI11 to them.
#include <unistd.h>

#include <iostream>

#include "client/audit_command.h"
#include "client/completion.h"
#include "client/coverage_command.h"
#include "client/exit_codes.h"
#include "client/local_build.h"
#include "agent/watchdog_command.h"
#include "client/plan_commands.h"
#include "client/remote_commands.h"
#include "common/base/command_line.h"

int main(int argc, char** argv) {
  CLI::App app{"cwb: build Python wheels of CUDA projects across a Python x CUDA x PyTorch matrix"};
  app.set_version_flag("--version", std::string("cwb ") + CWB_VERSION);
  app.require_subcommand(1);

  cwb::RemoteOptions remote;
  remote.terminal = ::isatty(STDOUT_FILENO) != 0;
  app.add_option("--coordinator", remote.connection.coordinator,
                 "Coordinator host:port (else $CWB_COORDINATOR, the config file, 127.0.0.1:7600)");
  app.add_option("--token-file", remote.connection.token_file,
                 "File holding the client token (else $CWB_TOKEN or the config file)");
  app.add_option("--tls-ca", remote.connection.tls.ca_file,
                 "PEM CA of the coordinator's certificate (else $CWB_TLS_CA or the config file)");
  app.add_option("--tls-cert", remote.connection.tls.cert_file, "PEM client certificate (mutual TLS)");
  app.add_option("--tls-key", remote.connection.tls.key_file, "PEM private key of --tls-cert");

  cwb::PlanOptions plan;
  CLI::App* plan_cmd = app.add_subcommand(
      "plan", "Expand a config's matrix into tasks and print them\n"
              "  example: cwb plan examples/matrix.yaml --json");
  plan_cmd->add_option("config", plan.config_path, "Build config (YAML)")->required();
  plan_cmd->add_flag("--json", plan.json, "Print the plan as JSON");
  plan_cmd->add_flag("--strict", plan.strict,
                     "A combination no PyTorch release supports is an error (default: left out, with the reason)");

  cwb::RenderOptions render;
  CLI::App* render_cmd = app.add_subcommand(
      "render", "Write one Dockerfile per distinct image of a config's matrix\n"
                "  example: cwb render examples/matrix.yaml -o /tmp/dockerfiles");
  render_cmd->add_option("config", render.config_path, "Build config (YAML)")->required();
  render_cmd->add_option("-o,--output", render.output_dir,
                         "Directory (default: <output_dir_host>/dockerfiles)");

  std::string config, build_id, task_id, output_dir = ".";
  std::vector<std::string> task_ids;
  bool watch = false, follow = false;

  CLI::App* submit_cmd = app.add_subcommand(
      "submit", "Submit a config's matrix to the coordinator\n"
                "  example: cwb submit examples/matrix.yaml --watch");
  submit_cmd->add_option("config", config, "Build config (YAML)")->required();
  submit_cmd->add_flag("--watch", watch, "Follow the build until it ends");
  submit_cmd->add_flag("--json", remote.json, "Print the submitted build as JSON");
  submit_cmd->add_flag("--strict", remote.strict, "A combination no PyTorch release supports is an error");
  submit_cmd->add_flag("--no-cache", remote.no_cache,
                       "Build every task, even those built before from the same spec and commit");
  submit_cmd->add_flag("--allow-untested", remote.allow_untested,
                       "Publish a built wheel whose smoke test needs a GPU no connected agent has, marked untested");

  CLI::App* watch_cmd = app.add_subcommand(
      "watch", "Follow a build live: a line per task and a progress bar\n"
               "  example: cwb watch b0123456789ab\n"
               "  example: cwb watch b0123456789ab --json | jq -c .task.state");
  watch_cmd->add_option("build", build_id, "Build id")->required();
  watch_cmd->add_flag("--json", remote.json, "Print each event as a line of JSON (JSON Lines) instead of the view");

  CLI::App* status_cmd = app.add_subcommand(
      "status", "List builds, or show one build's tasks\n  example: cwb status b0123456789ab --json");
  status_cmd->add_option("build", build_id, "Build id (omit to list builds)");
  status_cmd->add_flag("--json", remote.json, "Print JSON");

  CLI::App* logs_cmd = app.add_subcommand(
      "logs", "Print a task's log\n  example: cwb logs b0123456789ab 3f2a -f");
  logs_cmd->add_option("build", build_id, "Build id")->required();
  logs_cmd->add_option("task", task_id, "Task id or a unique prefix")->required();
  logs_cmd->add_flag("-f,--follow", follow, "Keep printing until the task ends");
  bool raw = false;
  logs_cmd->add_flag("--raw", raw, "Print control characters (ANSI sequences) as stored, unescaped");
  uint32_t tail_lines = 0;
  logs_cmd->add_option("-n,--tail", tail_lines, "Only the last N lines (then, with -f, what comes)")
      ->check(CLI::Range(1u, 100000u));

  CLI::App* fetch_cmd = app.add_subcommand(
      "fetch", "Download a build's wheels into DIR/wheelhouse/py<VER>/cuda<VER>/<platform>/\n"
               "  example: cwb fetch b0123456789ab -o ./out --index\n"
               "           pip install --index-url file://$PWD/out/simple/cu121-torch2.3/ NAME");
  fetch_cmd->add_option("build", build_id, "Build id")->required();
  fetch_cmd->add_option("-o,--output", output_dir, "Output directory")->capture_default_str();
  fetch_cmd->add_flag("--index", remote.index,
                      "Also write a PEP 503 index of the wheels to DIR/simple/ (and DIR/simple/<variant>/)");

  CLI::App* cancel_cmd = app.add_subcommand(
      "cancel", "Cancel a build, or one task of it\n  example: cwb cancel b0123456789ab");
  cancel_cmd->add_option("build", build_id, "Build id")->required();
  cancel_cmd->add_option("task", task_id, "Task id or prefix (omit for the whole build)");

  CLI::App* retry_cmd = app.add_subcommand(
      "retry", "Queue failed or cancelled tasks again\n  example: cwb retry b0123456789ab");
  retry_cmd->add_option("build", build_id, "Build id")->required();
  retry_cmd->add_option("tasks", task_ids, "Task ids or prefixes (omit for every failed task)");

  CLI::App* agents_cmd = app.add_subcommand("agents", "List agents\n  example: cwb agents --json");
  agents_cmd->add_flag("--json", remote.json, "Print JSON");

  cwb::CoverageOptions coverage;
  CLI::App* coverage_cmd = app.add_subcommand(
      "coverage", "Show which cells of a config's matrix have wheels, which failed and why, which are missing\n"
                  "  example: cwb coverage examples/matrix.yaml\n"
                  "  example: cwb coverage examples/matrix.yaml --markdown > COVERAGE.md\n"
                  "  example: cwb coverage examples/matrix.yaml --build b0123456789ab --json");
  coverage_cmd->add_option("config", coverage.config_path, "Build config (YAML)")->required();
  coverage_cmd->add_option("--wheelhouse", coverage.wheelhouse,
                           "Wheelhouse written by cwb fetch or cwb build (default: <output_dir_host>/wheelhouse)");
  coverage_cmd->add_option("--build", coverage.build_id, "Read the results of this build from the coordinator instead")
      ->excludes("--wheelhouse");
  CLI::Option* coverage_json =
      coverage_cmd->add_flag_callback("--json", [&] { coverage.format = "json"; }, "Print JSON (cwb.v1.CoverageReport)");
  coverage_cmd
      ->add_flag_callback("--markdown", [&] { coverage.format = "markdown"; },
                          "Print Markdown for a README (wheels linked relative to the wheelhouse's parent)")
      ->excludes(coverage_json);

  cwb::AuditOptions audit;
  CLI::App* audit_cmd = app.add_subcommand(
      "audit", "Check wheels as the release gate does: every ELF file's symbols against a torch, the manylinux policy\n"
               "  example: cwb audit dist/*.whl --torch .venv/bin/python\n"
               "  example: cwb audit flash_attn-2.6.3-cp312-cp312-linux_x86_64.whl --platform-tag manylinux_2_28");
  audit_cmd->add_option("wheels", audit.wheels, "Wheels to check")->required()->check(CLI::ExistingFile);
  audit_cmd->add_option("--torch", audit.python, "The Python whose torch the wheels are imported with (default: python3)");
  audit_cmd->add_option("--platform-tag", audit.platform_tag, "Also check the gate would give this tag: manylinux or manylinux_2_X");
  audit_cmd->add_flag("--json", audit.json, "Print JSON (cwb.v1.AuditReport)");

  cwb::LocalBuildOptions local;
  CLI::App* build_cmd = app.add_subcommand(
      "build", "Build a config's matrix on this machine (in-process coordinator and agent)\n"
               "  example: cwb build examples/quickstart.yaml --network host");
  build_cmd->add_option("config", local.config_path, "Build config (YAML)")->required();
  build_cmd->add_option("--runtime", local.runtime, "podman, docker, or host (no container)")
      ->capture_default_str();
  build_cmd->add_option("--host-python", local.host_python,
                        "With --runtime host: the Python whose packages (torch) builds see")
      ->capture_default_str();
  build_cmd->add_option("--gpus-per-task", local.gpus_per_task,
                        "GPUs each GPU task gets to itself (0: every task sees all GPUs)")
      ->capture_default_str();
  build_cmd->add_option("--network", local.network, "Network mode for builds (e.g. host)");
  build_cmd->add_option("--slots", local.slots, "Tasks to build at once")->capture_default_str();
  build_cmd->add_option("-o,--output", local.output_dir, "Output directory (default: output_dir_host)");
  build_cmd->add_flag("--keep-failed", local.keep_failed, "Keep the workspace of failed builds");
  build_cmd->add_flag("--strict", local.strict, "A combination no PyTorch release supports is an error");
  build_cmd->add_flag("--no-cache", local.no_cache,
                      "Build every task, even those built before from the same spec and commit");
  build_cmd->add_flag("--allow-untested", local.allow_untested,
                      "Publish wheels whose smoke test needs a GPU this machine lacks, marked untested (exit 0)");
  build_cmd->add_flag("--index", local.index, "Also write a PEP 503 index of the wheels to OUTPUT/simple/");

  std::string shell;
  CLI::App* completion_cmd = app.add_subcommand(
      "completion", "Print a shell completion script\n"
                    "  example: cwb completion bash > /etc/bash_completion.d/cwb\n"
                    "  example: cwb completion zsh > \"${fpath[1]}/_cwb\"");
  completion_cmd->add_option("shell", shell, "bash or zsh")->required()->check(CLI::IsMember({"bash", "zsh"}));

  // The watchdog of a build run `cwb build` starts (hidden; see agent/watchdog.h).
  cwb::WatchdogFlags watchdog;
  CLI::App* watchdog_cmd = cwb::AddWatchdogCommand(app, watchdog);

  app.name("cwb");
  if (std::optional<int> exit = cwb::ParseCommandLine(app, argc, argv)) return *exit;
  if (watchdog_cmd->parsed()) return cwb::RunWatchdogCommand(watchdog);
  if (completion_cmd->parsed()) {
    std::cout << cwb::CompletionScript(app, shell);
    return cwb::kExitSuccess;
  }
  cwb::ConfigureProcess();
  std::ostream& out = std::cout;
  std::ostream& err = std::cerr;
  if (plan_cmd->parsed()) return cwb::RunPlan(plan, out, err);
  if (render_cmd->parsed()) return cwb::RunRender(render, out, err);
  if (audit_cmd->parsed()) return cwb::AuditCommand(audit, out, err);
  if (coverage_cmd->parsed() && coverage.build_id.empty()) return cwb::CoverageCommand(coverage, remote, out, err);
  if (!build_cmd->parsed()) {
    absl::StatusOr<cwb::ConnectionSettings> resolved = cwb::ResolveConnection(remote.connection);
    if (!resolved.ok()) {
      err << "cwb: " << resolved.status().message() << '\n';
      return cwb::kExitUsageError;
    }
    remote.connection = *std::move(resolved);
  }
  if (submit_cmd->parsed()) return cwb::SubmitCommand(remote, config, watch, out, err);
  if (watch_cmd->parsed()) return cwb::WatchCommand(remote, build_id, out, err);
  if (status_cmd->parsed()) return cwb::StatusCommand(remote, build_id, out, err);
  if (logs_cmd->parsed()) return cwb::LogsCommand(remote, build_id, task_id, follow, raw, tail_lines, out, err);
  if (fetch_cmd->parsed()) return cwb::FetchCommand(remote, build_id, output_dir, out, err);
  if (cancel_cmd->parsed()) return cwb::CancelCommand(remote, build_id, task_id, out, err);
  if (retry_cmd->parsed()) return cwb::RetryCommand(remote, build_id, task_ids, out, err);
  if (agents_cmd->parsed()) return cwb::AgentsCommand(remote, out, err);
  if (coverage_cmd->parsed()) return cwb::CoverageCommand(coverage, remote, out, err);
  if (build_cmd->parsed()) {
    local.terminal = remote.terminal;
    cwb::Cancellation interrupt;
    cwb::CancelOnSignals(interrupt);
    return cwb::LocalBuildCommand(local, interrupt, out, err);
  }
  return cwb::kExitUsageError;
}
