# Sourced by test.sh and quickstart.sh: everything a fresh Debian machine needs before cwb runs.
# Installs packages, points podman at the project's settings (exported to the caller), builds the
# local base image, and builds cwb.
bash scripts/install-deps.sh
source scripts/podman-env.sh
bash scripts/make-base-image.sh
bash scripts/build.sh
