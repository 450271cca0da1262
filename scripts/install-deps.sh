#!/usr/bin/env bash
# Installs the Debian (bookworm) packages cwb needs; run as root (or through sudo). Idempotent;
# nothing else is downloaded.
#   install-deps.sh           what the main job needs: build the three programs, run builds in
#                             podman containers, make the local base image (the quickstart)
#   install-deps.sh --tests   and what the tests need besides (test libraries, clang for the
#                             fuzzers, chromium, zsh, docker's shim, systemd-analyze, ...)
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config git ca-certificates
  # libraries
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler libabsl-dev
  libyaml-cpp-dev libboost-dev libboost-filesystem-dev
  libsqlite3-dev libkainjow-mustache-dev libcli11-dev libssl-dev libjemalloc-dev libzip-dev libre2-dev
  libhiredis-dev libelf-dev
  # container builds (podman as root with runc) and the local base image
  podman runc catatonit fuse-overlayfs uidmap debootstrap
)
test_packages=(
  # test libraries; clang and its sanitizer runtime for the libFuzzer targets
  libgtest-dev libgmock-dev clang-14 libclang-rt-14-dev
  # the docker runtime's test: Debian's docker CLI shim over podman (no docker engine runs here)
  podman-docker
  # scripts/bundle-binaries.sh (binaries for a GPU host without the libraries)
  patchelf
  # the dashboard's test loads it in a headless browser
  chromium
  # the test of `cwb completion zsh`; tmux: the live view tested in a real terminal
  zsh tmux
  # the deploy tests: systemd-analyze verify, and cwb-coordinator-setup's certificate
  systemd openssl
  # the compile cache's tests: ccache on the host runtime, Redis as its shared store
  ccache redis-server
  # python used by tests and fixtures
  python3 python3-pip python3-setuptools python3-wheel python3-venv python3-dev
)
case "${1:-}" in
  --tests) packages+=("${test_packages[@]}") ;;
  "") ;;
  *) echo "install-deps: unknown argument $1 (--tests, or nothing for the main job)" >&2; exit 2 ;;
esac

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
