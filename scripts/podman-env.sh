# Source this file: points podman at the project's containers.conf (runc, no default ulimits).
# Agents started from this shell inherit it.
CWB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export CONTAINERS_CONF="$CWB_ROOT/deploy/podman/containers.conf"
