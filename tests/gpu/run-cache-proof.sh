#!/usr/bin/env bash
# The compile cache on a GPU host: a real public torch CUDA extension built cold, then rebuilt at a
# commit that changes only Python code, through the host runtime and Debian's ccache (carried in
# the bundle: the host has no package manager).
#   1. a coordinator (its compile cache store on loopback) and one host-runtime agent;
#   2. the extension built cold: its nvcc and C++ compiles are misses, stored in the shared store;
#   3. a commit that changes only Python code, built by a second agent (a fresh work directory,
#      so its local ccache directory is empty): every compile must hit the shared store, none
#      may miss, and nothing but the link and torch's compiler probes may be uncacheable (torch's
#      nvcc dependency files would be: TORCH_EXTENSION_SKIP_NVCC_GEN_DEPENDENCIES=1);
#   4. the rebuild's time against the cold one, and the smoke test of both wheels on the GPU.
# usage (repository root, on the GPU host): tests/gpu/run-cache-proof.sh [BUNDLE_DIR] [SOURCE_DIR]
# SOURCE_DIR (default BUNDLE_DIR/src/fast-hadamard-transform) is a clone of Dao-AILab's
# fast-hadamard-transform. Logs go to $CWB_CACHE_LOGS (default: the work directory it prints).
set -euo pipefail
cd "$(dirname "$0")/../.."
bundle=$(realpath "${1:-.gpu-bundle}")
source_dir=$(realpath "${2:-$bundle/src/fast-hadamard-transform}")
bin=$bundle/bin
python=${CWB_GPU_PYTHON:-$(command -v python3)}
work=$(mktemp -d /tmp/cwb-cache.XXXXXX)
logs=${CWB_CACHE_LOGS:-$work}
mkdir -p "$logs"
export PATH="$bin:$PATH"  # the carried ccache, for the builds the agents start
source tests/gpu/lib.sh

step "host, source, ccache"
nvidia-smi --query-gpu=index,name --format=csv,noheader
nproc
ccache --version | head -n 1
echo "CC=${CC:-unset} CXX=${CXX:-unset}; torch's C++ compiler: $("$python" -c 'import torch.utils.cpp_extension as c; print(c.get_cxx_compiler())')"
repo=$work/repo
git clone -q "$source_dir" "$repo"
git -C "$repo" log --oneline -1

py_version=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
torch_version=$("$python" -c 'import torch; print(".".join(torch.__version__.split("+")[0].split(".")[:2]))')
cuda_version=$("$python" -c 'import torch; print(torch.version.cuda)')
cat > "$work/cache.yaml" <<YAML
build_target: {python_version: "$py_version", cuda_version: "$cuda_version", pytorch_version: "$torch_version"}
projects:
  - name: fast-hadamard-transform
    repo_url: $repo
    env: {FAST_HADAMARD_TRANSFORM_FORCE_BUILD: "TRUE", NVCC_THREADS: "4"}
    build_command: pip wheel . --no-deps --no-build-isolation -w "\$CWB_OUT"
    test_command: |
      python -c "import torch, fast_hadamard_transform as f; x = torch.randn(4, 256, device='cuda'); print('cwb-cache: the test ran on', torch.cuda.get_device_name(0), tuple(f.hadamard_transform(x).shape))"
pytorch_base_images: {"$torch_version": {"$cuda_version": unused-by-the-host-runtime}}
YAML

step "coordinator"
"$bin/cwb-coordinator" --listen 127.0.0.1:0 --data-dir "$work/coordinator" > "$logs/coordinator.log" 2>&1 &
pids+=($!)
address=$(wait_for "$logs/coordinator.log" 'listening on [^ ]+' | cut -d' ' -f3)
wait_for "$logs/coordinator.log" 'compile cache on [^ ]+'
cwb() { "$bin/cwb" --coordinator "$address" "$@"; }

build_on() {  # build_on AGENT: a fresh agent builds the config; prints the seconds the build took
  "$bin/cwb-agent" serve --coordinator "$address" --agent-id "$1" --work-dir "$work/$1" --runtime host \
    --host-python "$python" --gpus-per-task 1 > "$logs/$1.log" 2>&1 &
  local agent=$!
  wait_for "$logs/$1.log" 'serving.*' > /dev/null
  local start=$(date +%s.%N)
  cwb submit "$work/cache.yaml" --watch > "$logs/$1-watch.log" 2>&1 || { cat "$logs/$1-watch.log" >&2; return 1; }
  local end=$(date +%s.%N)
  kill "$agent"; wait "$agent" 2>/dev/null || true
  "$python" -c "import sys; print(round(float(sys.argv[2]) - float(sys.argv[1]), 1))" "$start" "$end"
}
report() {  # report AGENT: the build's task log, its compile cache line and its build step's time
  local build=$(grep -oE 'build b[0-9a-f]+' "$logs/$1-watch.log" | head -n1 | cut -d' ' -f2)
  cwb status "$build" --json > "$work/$1.json"
  local task=$("$python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["tasks"][0]["spec"]["id"])' "$work/$1.json")
  cwb logs "$build" "$task" > "$logs/$1-task.log"
  grep -E 'compiling through|compile cache: [0-9]|the build used|cwb-cache: the test ran' "$logs/$1-task.log" | sed 's/^[^ ]* //'
}

step "cold build (agent cold)"
t_cold=$(build_on cold)
report cold
echo "cold: $t_cold s"

step "a commit that changes only Python code, built by another agent"
echo "# cwb cache proof: a Python-only change" >> "$repo/fast_hadamard_transform/__init__.py"
git -C "$repo" -c user.name=cwb -c user.email=cwb@invalid commit -qam "python only"
git -C "$repo" log --oneline -1
t_warm=$(build_on warm)
report warm
echo "warm: $t_warm s"

step "check"
"$python" - "$work/cold.json" "$work/warm.json" "$t_cold" "$t_warm" <<'PY'
import json, sys
cold, warm = (json.load(open(p))["tasks"][0] for p in sys.argv[1:3])
t_cold, t_warm = float(sys.argv[3]), float(sys.argv[4])
c, w = cold.get("compile_cache", {}), warm.get("compile_cache", {})
n = lambda d, k: int(d.get(k, 0))
print(f"cold: {n(c,'hits')} hits, {n(c,'misses')} misses, uncacheable {c.get('uncacheable_reasons', {})}, build step {int(cold['use']['wall_ms'])/1000:.0f} s")
print(f"warm: {n(w,'hits')} hits ({n(w,'remote_hits')} from the shared store), {n(w,'misses')} misses, "
      f"uncacheable {w.get('uncacheable_reasons', {})}, build step {int(warm['use']['wall_ms'])/1000:.0f} s")
print(f"rebuild: {t_warm:.0f} s against {t_cold:.0f} s cold, submit to smoke-tested ({t_warm / t_cold:.2f}x); "
      f"build step {int(warm['use']['wall_ms']) / int(cold['use']['wall_ms']):.2f}x")
allowed = {"called_for_link", "no_input_file"}
if cold["state"] != "TASK_STATE_SUCCEEDED" or warm["state"] != "TASK_STATE_SUCCEEDED":
    sys.exit("a build failed")
if n(c, "misses") == 0 or n(w, "misses") != 0 or n(w, "hits") != n(c, "misses") or n(w, "remote_hits") != n(w, "hits"):
    sys.exit("the rebuild did not hit on every compile of the cold build, from the shared store")
if set(w.get("uncacheable_reasons", {})) - allowed or set(c.get("uncacheable_reasons", {})) - allowed:
    sys.exit("a compile was uncacheable")
PY
step "done: every compile of the rebuild came from the shared store"
