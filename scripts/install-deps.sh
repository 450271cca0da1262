#!/usr/bin/env bash
# Installs every package cwb needs to build, test and run on a fresh Debian (bookworm) machine.
# Idempotent; run as root (or through sudo). Nothing else is downloaded.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config git ca-certificates clang-14 libclang-rt-14-dev
  # libraries
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler libabsl-dev
  libyaml-cpp-dev libboost-dev libboost-filesystem-dev libgtest-dev libgmock-dev
  libsqlite3-dev libkainjow-mustache-dev libcli11-dev libssl-dev libjemalloc-dev libzip-dev libre2-dev
  # container builds (podman as root with runc) and the local base image
  podman runc catatonit fuse-overlayfs uidmap debootstrap
  # the docker runtime's test: Debian's docker CLI shim over podman (no docker engine runs here)
  podman-docker
  # scripts/bundle-binaries.sh (binaries for a GPU host without the libraries)
  patchelf
  # the dashboard's test loads it in a headless browser
  chromium
  # the test of `cwb completion zsh`
  zsh
  # python used by tests and fixtures
  python3 python3-pip python3-setuptools python3-wheel python3-venv python3-dev
)

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -q
"${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
