// What every cwb binary's main does the same way: parse with CLI11, and turn SIGINT/SIGTERM into a
// cancellation instead of an abrupt exit.
#pragma once

#include <CLI/CLI.hpp>

#include <optional>

#include "common/base/cancellation.h"

namespace cwb {

// Parses argv. Returns nullopt to go on, or the status to exit with: 0 after --help or --version,
// 2 after a usage error (CLI11 has printed it).
inline std::optional<int> ParseCommandLine(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  }
  return std::nullopt;
}

// Settings every binary starts with: absl's mutex deadlock detection off (gRPC's mutexes would
// otherwise keep a graph of lock orders on every acquisition, a cost paid on each message).
void ConfigureProcess();

// Blocks SIGINT and SIGTERM in this thread and every thread started after it; a dedicated thread
// cancels `cancel` on the first of them (with the signal named in the reason). Call it in main
// before starting threads. `cancel` must outlive the process's use of it.
void CancelOnSignals(Cancellation& cancel);

}  // namespace cwb
