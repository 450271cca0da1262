#!/usr/bin/env bash
# The release gate on a GPU host: a real public torch CUDA extension (Dao-AILab's
# fast-hadamard-transform, which this project did not write) built through the host runtime by a
# coordinator and one agent, its wheel audited against the host's torch (CUDA runtime included)
# and retagged to its manylinux policy, smoke-tested on the GPU; then `cwb audit` of the published
# wheel against the same Python, and with --platform-tag manylinux_2_17, which it must be refused.
# usage (repository root, on the GPU host): tests/gpu/run-audit-proof.sh [BUNDLE_DIR] [SOURCE_DIR]
# SOURCE_DIR (default BUNDLE_DIR/src/fast-hadamard-transform) is a clone of fast-hadamard-transform.
# TORCH_CUDA_ARCH_LIST defaults to the GPU's own architecture (one, so the build is short).
set -euo pipefail
cd "$(dirname "$0")/../.."
bundle=$(realpath "${1:-.gpu-bundle}")
source_dir=$(realpath "${2:-$bundle/src/fast-hadamard-transform}")
bin=$bundle/bin
python=${CWB_GPU_PYTHON:-$(command -v python3)}
work=$(mktemp -d /tmp/cwb-audit.XXXXXX)
logs=${CWB_AUDIT_LOGS:-$work}
mkdir -p "$logs"
export PATH="$bin:$PATH"
source tests/gpu/lib.sh

step "host, source"
nvidia-smi --query-gpu=index,name,compute_cap --format=csv,noheader
arch=${TORCH_CUDA_ARCH_LIST:-$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -n1)}
"$python" -c 'import torch, platform; print("torch", torch.__version__, "CUDA", torch.version.cuda, "glibc", platform.libc_ver()[1])'
repo=$work/repo
git clone -q "$source_dir" "$repo"
git -C "$repo" log --oneline -1
py_version=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
torch_version=$("$python" -c 'import torch; print(".".join(torch.__version__.split("+")[0].split(".")[:2]))')
cuda_version=$("$python" -c 'import torch; print(torch.version.cuda)')
cat > "$work/audit.yaml" <<YAML
build_target: {python_version: "$py_version", cuda_version: "$cuda_version", pytorch_version: "$torch_version"}
platform_tag: manylinux
projects:
  - name: fast-hadamard-transform
    repo_url: $repo
    env: {FAST_HADAMARD_TRANSFORM_FORCE_BUILD: "TRUE", NVCC_THREADS: "4", TORCH_CUDA_ARCH_LIST: "$arch"}
    build_command: pip wheel . --no-deps --no-build-isolation -w "\$CWB_OUT"
    test_command: |
      python -c "import torch, fast_hadamard_transform as f; x = torch.randn(4, 256, device='cuda'); print('cwb-audit: the test ran on', torch.cuda.get_device_name(0), tuple(f.hadamard_transform(x).shape))"
pytorch_base_images: {"$torch_version": {"$cuda_version": unused-by-the-host-runtime}}
YAML

step "coordinator and agent"
"$bin/cwb-coordinator" --listen 127.0.0.1:0 --data-dir "$work/coordinator" > "$logs/coordinator.log" 2>&1 &
pids+=($!)
address=$(wait_for "$logs/coordinator.log" 'listening on [^ ]+' | cut -d' ' -f3)
cwb() { "$bin/cwb" --coordinator "$address" "$@"; }
"$bin/cwb-agent" serve --coordinator "$address" --agent-id gpu --work-dir "$work/agent" --runtime host \
  --host-python "$python" --gpus-per-task 1 > "$logs/agent.log" 2>&1 &
pids+=($!)
wait_for "$logs/agent.log" 'serving.*' > /dev/null

step "build, release gate, smoke test"
cwb submit "$work/audit.yaml" --watch > "$logs/watch.log" 2>&1 || { cat "$logs/watch.log" >&2; exit 1; }
build=$(grep -oE 'build b[0-9a-f]+' "$logs/watch.log" | head -n1 | cut -d' ' -f2)
cwb status "$build" --json > "$work/status.json"
task=$("$python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["tasks"][0]["spec"]["id"])' "$work/status.json")
cwb logs "$build" "$task" > "$logs/task.log"
grep -E 'release gate|\[audit\]|retagged|cwb-audit: the test ran|task succeeded' "$logs/task.log" | sed 's/^[^ ]* //'
"$python" -c 'import json,sys; print("status --json audit:", json.dumps(json.load(open(sys.argv[1]))["tasks"][0]["audit"]))' "$work/status.json"

step "cwb audit of the published wheel against $python"
cwb fetch "$build" -o "$work/fetched" > /dev/null
wheel=$(find "$work/fetched" -name '*.whl' | head -n1)
"$bin/cwb" audit "$wheel" --torch "$python"
echo "exit status $?"
step "the same wheel asked for manylinux_2_17"
set +e
"$bin/cwb" audit "$wheel" --torch "$python" --platform-tag manylinux_2_17 | tail -n 2
echo "exit status ${PIPESTATUS[0]} (1: refused)"
