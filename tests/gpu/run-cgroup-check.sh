#!/usr/bin/env bash
# What cwb-agent measures and limits with cgroup v2 (the GPU host: Ubuntu 24.04, memory.peak,
# cpu.stat, memory.events), with the host runtime and real processes:
#   1. a build holding 300 MiB: its peak memory and CPU time, from its own cgroup;
#   2. the same build under --memory 256M: killed by the kernel, reported as out of memory;
#   3. a real torch CUDA extension (tests/gpu/torch-ext, nvcc through torch's cpp_extension) built
#      for this host's GPUs: its peak memory and CPU time with the MAX_JOBS it was given.
# usage (repository root, on the GPU host):  tests/gpu/run-cgroup-check.sh [BUNDLE_DIR]
# BUNDLE_DIR (default .gpu-bundle) comes from scripts/bundle-binaries.sh. Needs root (it makes
# cgroups), git, nvcc, and a python3 with CUDA torch (CWB_GPU_PYTHON to choose another).
set -euo pipefail
cd "$(dirname "$0")/../.."
bundle=$(realpath "${1:-.gpu-bundle}")
bin=$bundle/bin
python=${CWB_GPU_PYTHON:-$(command -v python3)}
work=$(mktemp -d /tmp/cwb-cgroup.XXXXXX)
export GIT_AUTHOR_NAME=cwb GIT_AUTHOR_EMAIL=cwb@example.invalid
export GIT_COMMITTER_NAME=cwb GIT_COMMITTER_EMAIL=cwb@example.invalid
step() { printf '\n== %s\n' "$*"; }
repo() {  # repo SOURCE NAME: a git repository of a copy of SOURCE
  cp -r "$1" "$work/$2"
  git -C "$work/$2" init -q -b main && git -C "$work/$2" add -A && git -C "$work/$2" commit -q -m "$2"
}
py_version=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
torch_version=$("$python" -c 'import torch; print(".".join(torch.__version__.split("+")[0].split(".")[:2]))')
cuda_version=$("$python" -c 'import torch; print(torch.version.cuda)')
plan() {  # plan NAME REPO BUILD_COMMAND: a one-task plan for this host's Python, CUDA and torch
  cat > "$work/$1.yaml" <<YAML
build_target: {python_version: "$py_version", cuda_version: "$cuda_version", pytorch_version: "$torch_version"}
projects:
  - name: $1
    repo_url: $work/$2
    build_command: $3
pytorch_base_images: {"$torch_version": {"$cuda_version": unused-by-the-host-runtime}}
YAML
  "$bin/cwb" plan --json "$work/$1.yaml" > "$work/$1.json"
}
run_task() {  # run_task NAME [FLAGS...]: builds the plan on the host; its log on stdout
  local name=$1; shift
  "$bin/cwb-agent" run-task "$work/$name.json" --runtime host --host-python "$python" \
    --work-dir "$work/agent" -o "$work/out" "$@" 2>&1
}

step "host"
uname -r
printf 'cgroup filesystem: %s; controllers: %s\n' "$(stat -fc %T /sys/fs/cgroup)" "$(cat /sys/fs/cgroup/cgroup.controllers)"
nproc; free -g | head -n 2

step "1. a build holding 300 MiB, measured"
repo examples/demo-pure-package pure
plan held pure "python -c \"x = b'x' * (300 * 2**20)\" && pip wheel . --no-deps --no-build-isolation -w \"\$CWB_OUT\""
run_task held | tee "$work/held.log" | grep -E 'cgroup|the build used|task (succeeded|failed)'
grep -qE 'the build used 0\.[3-9][0-9] GiB of memory at most' "$work/held.log"

step "2. the same under --memory 256M"
status=0
run_task held --memory 256M > "$work/oom.log" || status=$?
grep -E 'the build used|task (succeeded|failed)|out of memory' "$work/oom.log"
echo "run-task exited $status"
[ "$status" -ne 0 ] && grep -qE 'out of memory \(peak 0\.2[0-9] GiB of 0\.25 GiB\)' "$work/oom.log"

step "3. a torch CUDA extension (nvcc), measured"
repo tests/gpu/torch-ext cwb-saxpy
plan saxpy cwb-saxpy "pip wheel . --no-deps --no-build-isolation -w \"\$CWB_OUT\""
start=$(date +%s)
run_task saxpy --gpus all | tee "$work/saxpy.log" | grep -E 'MAX_JOBS|the build used|task (succeeded|failed)'
echo "wall: $(( $(date +%s) - start )) s"
grep -q 'task .* succeeded' "$work/saxpy.log"
step "cgroup v2 measured and limited builds on this host"
