#!/usr/bin/env bash
# Configures and builds cwb with CMake + Ninja into ./build (or $CWB_BUILD_DIR).
# Warnings are errors when CI=true or CWB_WERROR=ON.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${CWB_BUILD_DIR:-build}
werror=${CWB_WERROR:-$([ "${CI:-}" = true ] && echo ON || echo OFF)}
cmake -S . -B "$build_dir" -G Ninja -DCWB_WERROR="$werror" >/dev/null
cmake --build "$build_dir"
