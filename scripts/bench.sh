#!/usr/bin/env bash
# Runs the benchmarks of docs/PERFORMANCE.md at their full sizes against the real binaries, after
# the same setup as the tests (packages, podman, the base image, the build). Prints one table and
# writes the rows to output/bench.json. Exits 1 if a target is not met. Extra arguments go to
# cwb-bench (e.g. --only dispatch,scale). Run as root (podman runs rootful here).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/prepare.sh --tests  # cwb-bench is built with the tests
mkdir -p output
exec "${CWB_BUILD_DIR:-build}/bench/cwb-bench" --size full --json output/bench.json "$@"
