#!/usr/bin/env bash
# A two-GPU host: run-gpu-proof.sh with four variants of the CUDA extension on an agent with a
# slot per GPU, failing unless two builds (which hold no GPU) ran at the same time and the smoke
# tests, each a step holding a GPU of its own, used both GPUs (from the agent's records and from
# inside each test: CUDA_VISIBLE_DEVICES and the device its kernel ran on).
# usage (repository root, on a host with at least two GPUs): tests/gpu/run-two-gpu-proof.sh [BUNDLE_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
gpus=$(nvidia-smi --query-gpu=index --format=csv,noheader | wc -l)
[ "$gpus" -ge 2 ] || { echo "run-two-gpu-proof: this host has $gpus GPU(s); two are needed"; exit 2; }
CWB_GPU_VARIANTS=${CWB_GPU_VARIANTS:-4} CWB_GPU_REQUIRE_OVERLAP=1 exec tests/gpu/run-gpu-proof.sh "$@"
