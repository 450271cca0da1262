// `cwb build`: the seed's `make` in one process. An in-process coordinator on a loopback port and
// a local agent dialing it (the same code paths as a cluster), then the wheels fetched into the
// config's output_dir_host. Kept apart from the other commands so that the plain client library
// does not link the coordinator and the agent.
#pragma once

#include <ostream>
#include <string>

#include "common/base/cancellation.h"

namespace cwb {

struct LocalBuildOptions {
  std::string config_path;
  std::string runtime = "podman";  // podman, docker or host
  std::string host_python = "python3";  // with the host runtime
  std::string network;          // engine network mode for builds
  int slots = 1;
  int gpus_per_task = 0;        // as cwb-agent serve --gpus-per-task
  std::string output_dir;       // empty: the config's output_dir_host
  bool terminal = false;
  bool keep_failed = false;
  bool no_cache = false;        // build every task, reusing no earlier result
  bool index = false;           // also write the static pip index beside the wheelhouse
  bool strict = false;          // a combination no PyTorch release supports is an error
  bool allow_untested = false;  // publish wheels whose smoke test needs a GPU this machine lacks, untested
};
// `cwb build`: an in-process coordinator and local agent; wheels land in output_dir_host. It ends
// when nothing more can run on this machine: tasks waiting for what it lacks (a GPU for a smoke
// test) are counted, and make the exit status 1.
// `interrupt` (Ctrl-C) cancels the build: running containers are stopped, finished wheels fetched.
int LocalBuildCommand(const LocalBuildOptions& options, Cancellation& interrupt, std::ostream& out,
                      std::ostream& err);

}  // namespace cwb
