#!/usr/bin/env bash
# Builds the local base image used by the examples and integration tests, with no registry:
# debootstrap a minimal Debian bookworm with Python and a C compiler, then `podman import` it.
# Skips the work when the image already exists with the same package list.
# Env: CWB_BASE_IMAGE (default localhost/cwb-base:bookworm), CWB_DEBIAN_MIRROR (default: the
# mirror this machine's apt uses).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/podman-env.sh

image=${CWB_BASE_IMAGE:-localhost/cwb-base:bookworm}
packages="python3,python3-pip,python3-setuptools,python3-wheel,python3-dev,gcc,libc6-dev,ccache,ca-certificates"
stamp=$(printf '%s' "bookworm $packages" | sha256sum | cut -c1-16)

if podman image exists "$image" &&
   [ "$(podman image inspect --format '{{ index .Labels "cwb.base.stamp" }}' "$image" 2>/dev/null)" = "$stamp" ]; then
  echo "make-base-image: $image is up to date"
  exit 0
fi

mirror=${CWB_DEBIAN_MIRROR:-}
if [ -z "$mirror" ]; then
  mirror=$(grep -rhoE '^(URIs:|deb) +https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null |
           grep -oE 'https?://[^ ]+' | head -n1 || true)
  mirror=${mirror:-http://deb.debian.org/debian}
fi

rootfs=$(mktemp -d /var/tmp/cwb-base.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT
echo "make-base-image: debootstrap bookworm from $mirror"
debootstrap --variant=minbase --include="$packages" bookworm "$rootfs" "$mirror" >"$rootfs.log" 2>&1 ||
  { tail -n 30 "$rootfs.log"; rm -f "$rootfs.log"; exit 1; }
rm -f "$rootfs.log"
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/archives/*.deb
tar -C "$rootfs" -c . | podman import \
  --change 'CMD ["/bin/bash"]' --change "LABEL cwb.base.stamp=$stamp" - "$image" >/dev/null
echo "make-base-image: built $image"
