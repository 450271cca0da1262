#!/usr/bin/env bash
# The whole cwb path on a real NVIDIA GPU host without a container engine or network:
#   1. the agent's GPU probe, checked against nvidia-smi;
#   2. a coordinator and one agent using the host runtime (builds see the host Python's torch)
#      with one slot per GPU (--gpus-per-task 1);
#   3. a matrix holding a small torch CUDA extension (tests/gpu/torch-ext, made a git repository
#      here), CWB_GPU_VARIANTS variants of it (default 2), submitted and watched with the cwb CLI;
#   4. each cell in two steps: its build holds no GPU (it sees none; CUDA_VISIBLE_DEVICES empty)
#      and compiles for cwb's default TORCH_CUDA_ARCH_LIST of the CUDA version, its wheel is
#      labelled with its variant (local_version) and held back on the coordinator; then its smoke
#      test (test_command), a step of its own, fetches the wheel into a fresh venv and runs the
#      kernel on the GPU that step was given (the agent's record and the test's own view shown);
#      which builds overlapped;
#   5. the wheels fetched (digests verified), the matrix's coverage, the wheels installed in a
#      fresh virtual environment (pip list shows the label), and the kernel run on every GPU, its
#      results checked against torch.
#
# usage (repository root, on the GPU host):  tests/gpu/run-gpu-proof.sh [BUNDLE_DIR]
# BUNDLE_DIR (default .gpu-bundle) comes from scripts/bundle-binaries.sh, built on any Debian 12
# machine. Needs nvidia-smi, nvcc, git, and a python3 with CUDA torch, setuptools and pip
# (CWB_GPU_PYTHON to choose another). Logs go to $OUT when it is set (the device tool), else to
# the work directory it prints. CWB_GPU_REQUIRE_OVERLAP=1 fails the run unless two builds ran at
# the same time and the smoke tests used two different GPUs (run-two-gpu-proof.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
bundle=$(realpath "${1:-.gpu-bundle}")
bin=$bundle/bin  # they find $bundle/lib by their rpath
python=${CWB_GPU_PYTHON:-$(command -v python3)}
variants=${CWB_GPU_VARIANTS:-2}
work=$(mktemp -d /tmp/cwb-gpu.XXXXXX)
logs=${OUT:-$work}
export GIT_AUTHOR_NAME=cwb GIT_AUTHOR_EMAIL=cwb@example.invalid
export GIT_COMMITTER_NAME=cwb GIT_COMMITTER_EMAIL=cwb@example.invalid
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true' EXIT
step() { printf '\n== %s\n' "$*"; }
wait_for() {  # wait_for FILE REGEX: prints the first match's first group
  for _ in $(seq 1 600); do
    if m=$(grep -oE "$2" "$1" | head -n1) && [ -n "$m" ]; then echo "$m"; return 0; fi
    sleep 0.1
  done
  echo "timed out waiting for /$2/ in $1:" >&2; cat "$1" >&2; return 1
}

step "host"
nvidia-smi --query-gpu=index,name,memory.total,driver_version,compute_cap --format=csv
"$python" -c "import sys, torch; print('python', sys.version.split()[0], sys.executable); print('torch', torch.__version__, 'for CUDA', torch.version.cuda, '-', torch.cuda.device_count(), 'GPU(s) visible')"
nvcc --version | tail -n 2

step "GPU probe against nvidia-smi"
"$bin/cwb-agent" probe
"$bin/cwb-agent" probe --json > "$work/probe.json"
nvidia-smi --query-gpu=index,uuid,name,memory.total,driver_version,compute_cap \
  --format=csv,noheader,nounits > "$work/smi.csv"
nvidia-smi > "$work/smi-banner.txt"
"$python" tests/gpu/compare_probe.py "$work/probe.json" "$work/smi.csv" "$work/smi-banner.txt"

step "fixture repository and matrix"
cp -r tests/gpu/torch-ext "$work/cwb-saxpy"
git -C "$work/cwb-saxpy" init -q -b main
git -C "$work/cwb-saxpy" add -A
git -C "$work/cwb-saxpy" commit -q -m "cwb-saxpy 0.1.0"
git -C "$work/cwb-saxpy" tag v0.1.0
py_version=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
torch_version=$("$python" -c 'import torch; print(".".join(torch.__version__.split("+")[0].split(".")[:2]))')
cuda_version=$("$python" -c 'import torch; print(torch.version.cuda)')
variant_list=$(seq -s ', ' -f 'v%g' 1 "$variants")
cat > "$work/gpu.yaml" <<YAML
# $variants variant(s) of one torch CUDA extension for this host's Python, CUDA and torch.
build_matrix:
  python_version: ["$py_version"]
  cuda_version: ["$cuda_version"]
  pytorch_version: ["$torch_version"]
  variant: [$variant_list]
local_version: true
projects:
  - name: cwb-saxpy
    repo_url: $work/cwb-saxpy
    repo_ref: v0.1.0
    build_command: |
      echo "cwb-gpu: start \$(date +%s.%N) CUDA_VISIBLE_DEVICES=\$CUDA_VISIBLE_DEVICES TORCH_CUDA_ARCH_LIST=\$TORCH_CUDA_ARCH_LIST MAX_JOBS=\$MAX_JOBS"
      python -c "import torch; print('cwb-gpu: the build sees', torch.cuda.device_count(), 'GPU(s)')"
      pip wheel . --no-deps --no-build-isolation -w "\$CWB_OUT"
      echo "cwb-gpu: end \$(date +%s.%N)"
    # Its own step, on a GPU: a fresh venv seeing only the labelled wheel (and the toolchain's torch).
    test_command: |
      echo "cwb-gpu: smoke test in \$PWD with CUDA_VISIBLE_DEVICES=\$CUDA_VISIBLE_DEVICES"
      python -c "import torch; print('cwb-gpu: the test sees', torch.cuda.device_count(), 'GPU(s):', torch.cuda.get_device_name(0))"
      test ! -e setup.py
      pip list --format freeze | grep cwb
      python -m cwb_saxpy.check
pytorch_base_images:
  "$torch_version": {"$cuda_version": "unused-by-the-host-runtime"}
YAML
cat "$work/gpu.yaml"
"$bin/cwb" plan "$work/gpu.yaml"

step "coordinator and agent (host runtime, one slot per GPU)"
"$bin/cwb-coordinator" --listen 127.0.0.1:0 --data-dir "$work/coordinator" > "$logs/coordinator.log" 2>&1 &
pids+=($!)
address=$(wait_for "$logs/coordinator.log" 'listening on [^ ]+' | cut -d' ' -f3)
"$bin/cwb-agent" serve --coordinator "$address" --agent-id gpu-host --work-dir "$work/agent" \
  --runtime host --host-python "$python" --gpus-per-task 1 > "$logs/agent.log" 2>&1 &
pids+=($!)
wait_for "$logs/agent.log" 'serving' > /dev/null
cat "$logs/agent.log"
cwb() { "$bin/cwb" --coordinator "$address" "$@"; }
cwb agents

step "submit and watch"
watch_status=0
cwb submit "$work/gpu.yaml" --watch | tee "$logs/watch.log" || watch_status=$?
build=$(grep -oE 'build b[0-9a-f]+' "$logs/watch.log" | head -n1 | cut -d' ' -f2)
cwb status "$build" || true

step "each attempt: the agent's record and the build's view"
cwb status "$build" --json > "$work/status.json" || true
tasks=$("$python" -c 'import json,sys; print(" ".join(t["spec"]["id"] for t in json.load(open(sys.argv[1]))["tasks"]))' "$work/status.json")
for task in $tasks; do
  cwb logs "$build" "$task" > "$logs/task-$task.log"
  echo "task $task:"
  grep -E "step: |GPUs of this attempt|cwb-gpu:|cwb: Python|labelled|wheel cwb_saxpy|fetching held|\[test\] (cwb|cwb_saxpy)|task succeeded" "$logs/task-$task.log" | sed 's/^/  /'
  if [ "$watch_status" -ne 0 ]; then tail -n 40 "$logs/task-$task.log" | sed 's/^/  | /'; fi
done
[ "$watch_status" -eq 0 ] || { echo "the build failed (cwb exit $watch_status)"; exit 1; }
"$python" - "$logs" $tasks <<'PY'
# Each cell: its build saw no GPU, its smoke test ran as a step of its own on one; which builds
# overlapped in time (from the builds' own start/end lines).
import itertools, os, re, sys
logs, tasks = sys.argv[1], sys.argv[2:]
spans, test_gpus = {}, set()
for task in tasks:
    text = open(f"{logs}/task-{task}.log").read()
    start = re.search(r"cwb-gpu: start ([0-9.]+) CUDA_VISIBLE_DEVICES=(\S*)", text)
    end = re.search(r"cwb-gpu: end ([0-9.]+)", text)
    if start.group(2) != "" or "cwb-gpu: the build sees 0 GPU(s)" not in text:
        sys.exit(f"task {task}: its build was given a GPU")
    build_at, test_at = text.find("this attempt's step: build"), text.find("this attempt's step: test")
    if build_at < 0 or test_at < build_at:
        sys.exit(f"task {task}: expected a build step, then a test step")
    test = re.search(r"\[test\] cwb-gpu: smoke test in \S+ with CUDA_VISIBLE_DEVICES=(\S+)", text[test_at:])
    if not test or "cwb-gpu: the test sees 1 GPU(s)" not in text[test_at:]:
        sys.exit(f"task {task}: its smoke test did not run on a GPU of its own")
    test_gpus.add(test.group(1))
    spans[task] = (float(start.group(1)), float(end.group(1)))
overlaps = 0
for (a, (s1, e1)), (b, (s2, e2)) in itertools.combinations(spans.items(), 2):
    overlap = min(e1, e2) - max(s1, s2)
    if overlap > 0:
        overlaps += 1
        print(f"overlap: the builds of {a} and {b} ran together for {overlap:.1f} s")
print(f"{len(spans)} builds, none holding a GPU; {overlaps} pair(s) ran at the same time; "
      f"smoke tests on GPU(s) {sorted(test_gpus)}")
if os.environ.get("CWB_GPU_REQUIRE_OVERLAP") == "1" and (overlaps == 0 or len(test_gpus) < 2):
    sys.exit("expected builds running at the same time and smoke tests on two GPUs")
PY

step "fetch"
cwb fetch "$build" -o "$work/fetched"
mapfile -t wheels < <(find "$work/fetched/wheelhouse" -name '*.whl' | sort)
printf '%s\n' "${wheels[@]}"
[ "${#wheels[@]}" -eq "$variants" ] || { echo "expected $variants wheels"; exit 1; }
for wheel in "${wheels[@]}"; do
  case "$(basename "$wheel")" in
    cwb_saxpy-0.1.0+cu${cuda_version/./}torch${torch_version}variantv*-*.whl) ;;
    *) echo "$wheel: expected the variant's local version label"; exit 1 ;;
  esac
done

step "coverage"
"$bin/cwb" coverage "$work/gpu.yaml" --wheelhouse "$work/fetched/wheelhouse"
"$bin/cwb" coverage "$work/gpu.yaml" --wheelhouse "$work/fetched/wheelhouse" --markdown

step "install in a fresh virtual environment and run the kernel"
# A venv of the base interpreter that sees the toolchain's torch through a .pth (the toolchain
# python3 may itself be a venv, whose packages --system-site-packages would not pass on).
base=$("$python" -c 'import os, sys; v = "%d.%d" % sys.version_info[:2]; p = os.path.join(sys.base_prefix, "bin", "python" + v); print(p if os.path.exists(p) else sys._base_executable)')
site=$("$python" -c 'import site; print(site.getsitepackages()[0])')
"$base" -m venv --without-pip "$work/fresh"
echo "import site; site.addsitedir('$site')" > "$work/fresh/lib/python$py_version/site-packages/toolchain-torch.pth"
if "$python" -c 'import cwb_saxpy' 2>/dev/null; then echo "cwb_saxpy must not be importable outside the fresh venv"; exit 1; fi
"$work/fresh/bin/python" -m pip install --no-deps --no-index --quiet "${wheels[0]}"
"$work/fresh/bin/python" -m pip list 2>/dev/null | grep -i saxpy
# Away from the fixture, whose source package (without the built _C) would shadow the wheel.
(cd "$work" && "$work/fresh/bin/python" -m cwb_saxpy.check)
step "done: the GPU path works end to end"
