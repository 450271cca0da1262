#!/usr/bin/env bash
# Configures and builds cwb with CMake + Ninja into ./build (or $CWB_BUILD_DIR).
#   build.sh           the three programs only: cwb, cwb-agent, cwb-coordinator (the main job)
#   build.sh --tests   everything: the programs, the tests, the fuzzers and the benchmarks
# Warnings are errors when CI=true or CWB_WERROR=ON.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${CWB_BUILD_DIR:-build}
werror=${CWB_WERROR:-$([ "${CI:-}" = true ] && echo ON || echo OFF)}
case "${1:-}" in
  --tests)
    cmake -S . -B "$build_dir" -G Ninja -DCWB_WERROR="$werror" -DCWB_BUILD_TESTS=ON >/dev/null
    cmake --build "$build_dir" ;;
  "")
    # A new build directory leaves the tests out (their libraries are not installed for the main
    # job); one the tests configured keeps them. Only the programs are built here.
    tests=()
    [ -f "$build_dir/CMakeCache.txt" ] || tests=(-DCWB_BUILD_TESTS=OFF)
    cmake -S . -B "$build_dir" -G Ninja -DCWB_WERROR="$werror" "${tests[@]}" >/dev/null
    cmake --build "$build_dir" --target cwb cwb-agent cwb-coordinator ;;
  *) echo "build: unknown argument $1 (--tests, or nothing for the programs)" >&2; exit 2 ;;
esac
