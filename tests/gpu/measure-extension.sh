#!/usr/bin/env bash
# Builds one public torch CUDA extension with `cwb-agent run-task --runtime host` on the GPU host
# and prints what its build used (peak memory and CPU time of the whole tree, from its cgroup),
# its MAX_JOBS, its wall time and its smoke test on the GPU: the resource profile cwb's placement
# learns per target. The source comes from the search tool's fetch, cloned into a carried folder.
# usage (repository root, on the GPU host):
#   tests/gpu/measure-extension.sh SOURCE_DIR NAME 'BUILD_ENV_YAML' 'TEST_COMMAND' [BUNDLE_DIR]
# e.g. tests/gpu/measure-extension.sh .gpu-bundle/src/fast-hadamard-transform fast-hadamard-transform \
#        '{FAST_HADAMARD_TRANSFORM_FORCE_BUILD: "TRUE"}' \
#        "python -c \"import torch, fast_hadamard_transform as f; print(f.hadamard_transform(torch.randn(4, 256, device='cuda')).shape)\""
set -euo pipefail
cd "$(dirname "$0")/../.."
source_dir=$(realpath "$1")
name=$2
env_yaml=$3
test_command=$4
bin=$(realpath "${5:-.gpu-bundle}")/bin
python=${CWB_GPU_PYTHON:-$(command -v python3)}
work=$(mktemp -d /tmp/cwb-measure.XXXXXX)
py_version=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
torch_version=$("$python" -c 'import torch; print(".".join(torch.__version__.split("+")[0].split(".")[:2]))')
cuda_version=$("$python" -c 'import torch; print(torch.version.cuda)')
cat > "$work/$name.yaml" <<YAML
build_target: {python_version: "$py_version", cuda_version: "$cuda_version", pytorch_version: "$torch_version"}
projects:
  - name: $name
    repo_url: $source_dir
    env: $env_yaml
    build_command: pip wheel . --no-deps --no-build-isolation -w "\$CWB_OUT"
    test_command: $test_command
pytorch_base_images: {"$torch_version": {"$cuda_version": unused-by-the-host-runtime}}
YAML
"$bin/cwb" plan --json "$work/$name.yaml" > "$work/$name.json"
git -C "$source_dir" log --oneline -1
start=$(date +%s)
"$bin/cwb-agent" run-task "$work/$name.json" --runtime host --host-python "$python" --work-dir "$work/agent" \
  -o "$work/out" --gpus all 2>&1 | tee "$work/$name.log" |
  grep -E 'cgroup|MAX_JOBS|the build used|task |\[test\]' | cut -c1-240
echo "wall: $(( $(date +%s) - start )) s"
grep -q "task .* succeeded" "$work/$name.log"
