#!/usr/bin/env bash
# Builds where there is no GPU, smoke tests where there is: two agents on one GPU host, a real
# public CUDA extension, four variants at once against four times one alone.
#   1. a coordinator and two host-runtime agents sharing this host: "builder" sees no GPU (its
#      probe finds none) and offers 12 cores and 90 GiB; "tester" has the GPU (one GPU task at a
#      time) and offers 4 cores and 28 GiB;
#   2. one variant of the extension alone, submitted and watched: its wall time (T1), and what its
#      build used, which the coordinator learns;
#   3. four variants at once (each a new target, predicted from the first: its project's cell of
#      the same CUDA): the makespan (T4), where each build ran and where each smoke test ran;
#   4. fails unless every build ran without a GPU, every test on the GPU agent, and T4 <= 0.4 x 4 x T1.
# usage (repository root, on the GPU host): tests/gpu/run-split-proof.sh [BUNDLE_DIR] [SOURCE_DIR]
# SOURCE_DIR (default BUNDLE_DIR/src/fast-hadamard-transform) is a clone of Dao-AILab's
# fast-hadamard-transform (the search tool's fetch, cloned into the carried bundle). Logs go to
# $CWB_SPLIT_LOGS (default: the work directory it prints).
set -euo pipefail
cd "$(dirname "$0")/../.."
bundle=$(realpath "${1:-.gpu-bundle}")
source_dir=$(realpath "${2:-$bundle/src/fast-hadamard-transform}")
bin=$bundle/bin
python=${CWB_GPU_PYTHON:-$(command -v python3)}
work=$(mktemp -d /tmp/cwb-split.XXXXXX)
logs=${CWB_SPLIT_LOGS:-$work}
mkdir -p "$logs"
source tests/gpu/lib.sh

py_version=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
torch_version=$("$python" -c 'import torch; print(".".join(torch.__version__.split("+")[0].split(".")[:2]))')
cuda_version=$("$python" -c 'import torch; print(torch.version.cuda)')
write_config() {  # write_config FILE VARIANTS
  cat > "$1" <<YAML
build_matrix:
  python_version: ["$py_version"]
  cuda_version: ["$cuda_version"]
  pytorch_version: ["$torch_version"]
  variant: [$2]
local_version: true
projects:
  - name: fast-hadamard-transform
    repo_url: $source_dir
    # Its own build switch and its default nvcc threads (cwb would otherwise set them from the share).
    env: {FAST_HADAMARD_TRANSFORM_FORCE_BUILD: "TRUE", NVCC_THREADS: "4"}
    build_command: |
      python -c "import torch; print('cwb-split: the build sees', torch.cuda.device_count(), 'GPU(s)')"
      pip wheel . --no-deps --no-build-isolation -w "\$CWB_OUT"
    test_command: |
      python -c "import torch, fast_hadamard_transform as f; x = torch.randn(4, 256, device='cuda'); print('cwb-split: the test ran on', torch.cuda.get_device_name(0), tuple(f.hadamard_transform(x).shape))"
pytorch_base_images: {"$torch_version": {"$cuda_version": unused-by-the-host-runtime}}
YAML
}

step "host and source"
nvidia-smi --query-gpu=index,name,memory.total --format=csv,noheader
nproc; free -g | head -n 2
git -C "$source_dir" log --oneline -1

step "coordinator and two agents on this host"
"$bin/cwb-coordinator" --listen 127.0.0.1:0 --data-dir "$work/coordinator" > "$logs/coordinator.log" 2>&1 &
pids+=($!)
address=$(wait_for "$logs/coordinator.log" 'listening on [^ ]+' | cut -d' ' -f3)
"$bin/cwb-agent" serve --coordinator "$address" --agent-id builder --work-dir "$work/builder" --runtime host \
  --host-python "$python" --nvidia-smi /nonexistent/nvidia-smi --cores 12 --memory 90G > "$logs/builder.log" 2>&1 &
pids+=($!)
"$bin/cwb-agent" serve --coordinator "$address" --agent-id tester --work-dir "$work/tester" --runtime host \
  --host-python "$python" --gpus-per-task 1 --cores 4 --memory 28G > "$logs/tester.log" 2>&1 &
pids+=($!)
wait_for "$logs/builder.log" 'serving.*' && wait_for "$logs/tester.log" 'serving.*'
cwb() { "$bin/cwb" --coordinator "$address" "$@"; }
cwb agents

run() {  # run NAME VARIANTS: submits, watches; prints the seconds it took
  write_config "$work/$1.yaml" "$2"
  local start=$(date +%s.%N)
  cwb submit "$work/$1.yaml" --watch > "$logs/$1-watch.log" 2>&1 || { cat "$logs/$1-watch.log" >&2; return 1; }
  "$python" -c "import sys; print(round(float(sys.argv[2]) - float(sys.argv[1]), 1))" "$start" "$(date +%s.%N)"
}

step "one variant alone"
t1=$(run single s)
cat "$logs/single-watch.log"
echo "T1 = $t1 s"

step "four variants at once (predicted from the first)"
t4=$(run matrix "a, b, c, d")
cat "$logs/matrix-watch.log"
echo "T4 = $t4 s"

step "where each step ran"
build=$(grep -oE 'build b[0-9a-f]+' "$logs/matrix-watch.log" | head -n1 | cut -d' ' -f2)
cwb status "$build" --json > "$work/status.json"
cwb status "$build" | cut -c1-200
for task in $("$python" -c 'import json,sys; print(" ".join(t["spec"]["id"] for t in json.load(open(sys.argv[1]))["tasks"]))' "$work/status.json"); do
  cwb logs "$build" "$task" > "$logs/task-$task.log"
done
"$python" - "$logs" "$work/status.json" "$t1" "$t4" "$work" <<'PY'
# Each task: which agent built it (its attempt logs are in that agent's work directory), what the
# build saw and used, where its test ran; then the makespan against four times one variant alone.
import glob, json, re, sys
logs, status, t1, t4, work = sys.argv[1], json.load(open(sys.argv[2])), float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
def built_by(task):  # the agent whose attempt log of this task is its build step's
    return [p.split("/")[len(work.split("/"))] for p in glob.glob(f"{work}/*/logs/{task}/*.log")
            if "this attempt's step: build" in open(p).read()]
for task in status["tasks"]:
    text = open(f"{logs}/task-{task['spec']['id']}.log").read()
    build_at, test_at = text.find("this attempt's step: build"), text.find("this attempt's step: test")
    if build_at < 0 or test_at < build_at:
        sys.exit(f"{task['spec']['id']}: expected a build step, then a test step")
    sees = re.search(r"cwb-split: the build sees (\d+) GPU", text[build_at:test_at])
    ran = re.search(r"cwb-split: the test ran on ([^(]+)", text[test_at:])
    used = re.search(r"the build used ([^\n]*)", text[build_at:test_at])
    print(f"{task['spec']['id']} {task['spec']['axes'][-1]['value']}: build saw {sees.group(1)} GPU(s)"
          f" on {'/'.join(built_by(task['spec']['id']))} ({used.group(1) if used else 'unmeasured'});"
          f" test on {ran.group(1).strip() if ran else '?'} by {task['agent_id']}")
    if sees.group(1) != "0" or not ran or task["agent_id"] != "tester":
        sys.exit("a build saw a GPU, or a test ran elsewhere than on the GPU agent")
ratio = t4 / (4 * t1)
print(f"T1 {t1:.0f} s, T4 {t4:.0f} s: makespan {ratio:.2f}x four builds one after another (target <= 0.40)")
if ratio > 0.4:
    sys.exit("the four variants took more than 0.4x four single builds")
PY
for agent in builder tester; do echo "$agent:"; grep -E "assigned|serving" "$logs/$agent.log" | head -n 3 || true; done
step "done: built without a GPU, tested with one"
