#!/usr/bin/env bash
# The main job on a fresh Debian machine (as root): install dependencies, prepare podman and the
# local base image, build cwb, then plan the example matrix and build every task into wheels
# under output/quickstart/wheelhouse/py<VER>/cuda<VER>/<platform>/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
source scripts/podman-env.sh
bash scripts/make-base-image.sh
bash scripts/build.sh
bash scripts/make-example-repos.sh

config=examples/quickstart.yaml
out=output/quickstart
mkdir -p "$out"
build/client/cwb plan "$config"
build/client/cwb plan --json "$config" > "$out/plan.json"
for id in $(python3 -c 'import json,sys; print(" ".join(t["id"] for t in json.load(open(sys.argv[1]))["tasks"]))' "$out/plan.json"); do
  build/agent/cwb-agent run-task "$out/plan.json" --task "$id" --work-dir "$out/agent" \
    --network host --gpus none -o "$out"
done
echo "quickstart: wheels built:"
find "$out/wheelhouse" -name '*.whl' | sort
