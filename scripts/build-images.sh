#!/usr/bin/env bash
# Builds the container images of deploy/images/ from the built binaries: cwb-coordinator:latest
# and cwb-agent:latest (podman, or docker with CWB_ENGINE=docker). Run after scripts/build.sh.
# BASE=IMAGE picks the Debian base (default debian:bookworm-slim; the tests use the local
# localhost/cwb-base:bookworm, as no registry is reachable there).
set -euo pipefail
cd "$(dirname "$0")/.."
engine=${CWB_ENGINE:-podman}
base=${BASE:-debian:bookworm-slim}
context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
scripts/bundle-binaries.sh "$context/bundle" >/dev/null
for image in coordinator agent; do
  "$engine" build --network host --build-arg "BASE=$base" -t "cwb-$image:latest" \
    -f "deploy/images/Containerfile.$image" "$context"
done
echo "build-images: cwb-coordinator:latest and cwb-agent:latest"
