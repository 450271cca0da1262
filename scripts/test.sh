#!/usr/bin/env bash
# Sets up everything on a fresh Debian machine and runs every test:
# packages, podman (runc, no default ulimits), the local base image, the build, then ctest.
# Run as root (podman runs rootful here). Extra arguments go to ctest (e.g. -L unit).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/prepare.sh --tests
export CWB_REQUIRE_PODMAN=1  # integration tests fail rather than skip without podman
cd "${CWB_BUILD_DIR:-build}"
ctest --output-on-failure -j "$(nproc)" "$@"
