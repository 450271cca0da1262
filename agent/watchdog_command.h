// `watchdog`: the subcommand a build run's watchdog process runs (watchdog.h), in cwb-agent and,
// hidden, in cwb (whose `cwb build` runs an agent in-process). Not for people to call.
#pragma once

#include <CLI/CLI.hpp>

#include "agent/watchdog.h"

namespace cwb {

struct WatchdogFlags {
  WatchdogOptions options;
  int stale_s = static_cast<int>(kAliveStaleAfter.count());
  int poll_s = 2;
};

// Adds the subcommand to `app`; its flags land in `flags`.
CLI::App* AddWatchdogCommand(CLI::App& app, WatchdogFlags& flags);
int RunWatchdogCommand(WatchdogFlags flags);

// This program's path (/proc/self/exe), to start its own `watchdog` subcommand.
std::string SelfExecutable();

}  // namespace cwb
