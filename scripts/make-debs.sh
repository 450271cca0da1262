#!/usr/bin/env bash
# Makes the Debian packages cwb, cwb-agent and cwb-coordinator (CPack; packaging/CMakeLists.txt)
# from the programs built in ./build (or $CWB_BUILD_DIR; scripts/build.sh first) into
# output/debs (or the directory given).
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${CWB_BUILD_DIR:-build}
out=${1:-output/debs}
cmake --build "$build_dir" --target cwb cwb-agent cwb-coordinator
mkdir -p "$out"
out=$(cd "$out" && pwd)
(cd "$build_dir" && cpack -G DEB -B "$out" >/dev/null)
rm -rf "$out/_CPack_Packages"
ls "$out"/*.deb
