#!/usr/bin/env bash
# The main job on a fresh Debian machine (as root): install dependencies, prepare podman and the
# local base image, build cwb, then build the example matrix into wheels under
# output/quickstart/wheelhouse/py<VER>/cuda<VER>/<platform>/ with `cwb build`, each wheel labelled
# with its variant and smoke-tested, then print the matrix's coverage.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/prepare.sh
bash scripts/make-example-repos.sh

# The whole matrix in one command: an in-process coordinator and a local agent (the seed's `make`).
build/client/cwb plan examples/quickstart.yaml
build/client/cwb build examples/quickstart.yaml --network host
echo "quickstart: wheels in output/quickstart/wheelhouse:"
find output/quickstart/wheelhouse -name '*.whl' | sort
# Which cells of the matrix have their wheels (each smoke-tested in a fresh container).
build/client/cwb coverage examples/quickstart.yaml
