#!/usr/bin/env bash
# Builds the CUDA toolchain image the compile tests share (compile jobs, the compile cache, the
# release gate): the local base image plus Debian's non-free nvidia-cuda-toolkit (nvcc 11.8) and
# ninja. No GPU is needed to compile with it. Skips the work when the image exists with the same
# stamp, so a machine builds it once; concurrent callers wait for one build (a lock file).
# Env: CWB_TOOLCHAIN_IMAGE (default localhost/cwb-cuda-toolchain:11.8), CWB_BASE_IMAGE.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/podman-env.sh

image=${CWB_TOOLCHAIN_IMAGE:-localhost/cwb-cuda-toolchain:11.8}
base=${CWB_BASE_IMAGE:-localhost/cwb-base:bookworm}
packages="nvidia-cuda-toolkit ninja-build g++"
stamp=$(printf '%s' "$base $packages $(podman image inspect --format '{{.Id}}' "$base")" | sha256sum | cut -c1-16)

exec 9>/var/tmp/cwb-toolchain-image.lock
flock 9
if podman image exists "$image" &&
   [ "$(podman image inspect --format '{{ index .Labels "cwb.toolchain.stamp" }}' "$image" 2>/dev/null)" = "$stamp" ]; then
  echo "make-toolchain-image: $image is up to date"
  exit 0
fi

context=$(mktemp -d /var/tmp/cwb-toolchain.XXXXXX)
trap 'rm -rf "$context"' EXIT
cat >"$context/Dockerfile" <<DOCKERFILE
FROM $base
# nvidia-cuda-toolkit is in Debian's non-free section.
RUN sed -i -E 's/^(deb .* bookworm[a-z-]* main)\$/\1 contrib non-free/' /etc/apt/sources.list && \\
    apt-get update && \\
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $packages && \\
    rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb && \\
    nvcc --version | tail -n 2
LABEL cwb.toolchain.stamp=$stamp
DOCKERFILE
echo "make-toolchain-image: building $image (nvcc from Debian non-free)"
podman build --network host -t "$image" "$context" >"$context/build.log" 2>&1 ||
  { tail -n 40 "$context/build.log"; exit 1; }
tail -n 3 "$context/build.log" | sed 's/^/make-toolchain-image: /'
echo "make-toolchain-image: built $image"
