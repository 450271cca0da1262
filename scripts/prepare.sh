# Sourced by quickstart.sh (`source scripts/prepare.sh`) and test.sh (`... --tests`): everything a
# fresh Debian machine needs before cwb runs. Installs packages, points podman at the project's
# settings (exported to the caller), builds the local base image (and, for the tests, the CUDA
# toolchain image), and builds cwb: the three
# programs, or with --tests everything the tests need too.
bash scripts/install-deps.sh "$@"
source scripts/podman-env.sh
bash scripts/make-base-image.sh
# The tests compile CUDA with Debian's nvcc 11.8: its image is made once per machine.
if [ "${1:-}" = --tests ]; then bash scripts/make-toolchain-image.sh; fi
bash scripts/build.sh "$@"
