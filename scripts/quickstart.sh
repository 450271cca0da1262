#!/usr/bin/env bash
# The main job on a fresh Debian machine: install dependencies, build cwb, then plan and render
# the example matrix.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
build/client/cwb plan examples/matrix.yaml
build/client/cwb render examples/matrix.yaml
