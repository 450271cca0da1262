// cwb: the client CLI. Subcommands live in *_commands.cc; this file only wires CLI11 to them.
#include <CLI/CLI.hpp>

#include <iostream>

#include "client/exit_codes.h"
#include "client/plan_commands.h"

int main(int argc, char** argv) {
  CLI::App app{"cwb: build Python wheels of CUDA projects across a Python x CUDA x PyTorch matrix"};
  app.set_version_flag("--version", std::string("cwb ") + CWB_VERSION);
  app.require_subcommand(1);

  cwb::PlanOptions plan;
  CLI::App* plan_cmd = app.add_subcommand(
      "plan", "Expand a config's matrix into tasks and print them\n"
              "  example: cwb plan examples/matrix.yaml --json");
  plan_cmd->add_option("config", plan.config_path, "Build config (YAML)")->required();
  plan_cmd->add_flag("--json", plan.json, "Print the plan as JSON");

  cwb::RenderOptions render;
  CLI::App* render_cmd = app.add_subcommand(
      "render", "Write one Dockerfile per distinct image of a config's matrix\n"
                "  example: cwb render examples/matrix.yaml -o /tmp/dockerfiles");
  render_cmd->add_option("config", render.config_path, "Build config (YAML)")->required();
  render_cmd->add_option("-o,--output", render.output_dir,
                         "Directory (default: <output_dir_host>/dockerfiles)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return cwb::kExitUsageError;
  }
  if (plan_cmd->parsed()) return cwb::RunPlan(plan, std::cout, std::cerr);
  if (render_cmd->parsed()) return cwb::RunRender(render, std::cout, std::cerr);
  return cwb::kExitUsageError;
}
