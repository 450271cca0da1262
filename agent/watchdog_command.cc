#include "agent/watchdog_command.h"

#include <filesystem>
#include <fstream>
#include <iostream>

#include "common/process/boost_process_runner.h"

namespace cwb {

CLI::App* AddWatchdogCommand(CLI::App& app, WatchdogFlags& flags) {
  CLI::App* command = app.add_subcommand("watchdog", "");
  command->group("");  // hidden from --help and completion
  command->add_option("--alive", flags.options.alive, "The attempt's alive file")->required();
  command->add_option("--stale", flags.stale_s, "Seconds after which the file is stale");
  command->add_option("--poll", flags.poll_s, "Seconds between looks at the file");
  // One directory per --remove, so that a "--" after the last still starts the stop command.
  command->add_option("--remove", flags.options.remove, "A directory to remove when the build is stopped")
      ->allow_extra_args(false);
  command->add_option("--host-run", flags.options.host_run, "A host-runtime run to kill");
  command->add_option("--cgroup", flags.options.cgroup, "The attempt's cgroup, to remove once it has emptied");
  command->add_option("--cgroup-root", flags.options.cgroup_root, "Where the cgroup hierarchies are mounted");
  command->add_option("--log", flags.options.log, "The file to append its report to");
  command->add_option("stop", flags.options.stop_command, "The command that stops the container (after --)");
  return command;
}

int RunWatchdogCommand(WatchdogFlags flags) {
  flags.options.stale = std::chrono::seconds(flags.stale_s);
  flags.options.poll = std::chrono::seconds(flags.poll_s);
  BoostProcessRunner runner;
  if (flags.options.log.empty()) return RunWatchdog(flags.options, SystemClock::Get(), runner, std::cerr);
  std::ofstream log(flags.options.log, std::ios::app);
  return RunWatchdog(flags.options, SystemClock::Get(), runner, log);
}

std::string SelfExecutable() {
  std::error_code error;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
  return error ? std::string() : self.string();
}

}  // namespace cwb
