"""Checks `cwb-agent probe --json` against nvidia-smi's own answers, field by field.

usage: compare_probe.py PROBE.json SMI.csv SMI_CUDA.txt
  SMI.csv: nvidia-smi --query-gpu=index,uuid,name,memory.total,driver_version,compute_cap
           --format=csv,noheader,nounits
  SMI_CUDA.txt: the "CUDA Version: X.Y" of nvidia-smi's banner
"""
import json
import re
import sys

probe = json.load(open(sys.argv[1]))
rows = [[f.strip() for f in line.split(",")] for line in open(sys.argv[2]) if line.strip()]
cuda = re.search(r"CUDA Version: ([0-9.]+)", open(sys.argv[3]).read()).group(1)

problems = []
if len(probe["gpus"]) != len(rows):
    problems.append(f"{len(probe['gpus'])} GPUs probed, nvidia-smi lists {len(rows)}")
for gpu, (index, uuid, name, memory_mib, driver, cap) in zip(probe["gpus"], rows):
    expected = {"index": int(index), "uuid": uuid, "name": name,
                "memory_bytes": int(memory_mib) << 20, "compute_capability": cap}
    for key, value in expected.items():
        if gpu[key] != value:
            problems.append(f"gpu {index} {key}: probe {gpu[key]!r}, nvidia-smi {value!r}")
    if probe["driver_version"] != driver:
        problems.append(f"driver: probe {probe['driver_version']!r}, nvidia-smi {driver!r}")
if probe["cuda_version"] != cuda:
    problems.append(f"CUDA: probe {probe['cuda_version']!r}, nvidia-smi {cuda!r}")
if problems:
    sys.exit("probe differs from nvidia-smi:\n  " + "\n  ".join(problems))
print(f"probe matches nvidia-smi: {len(rows)} GPU(s), driver {probe['driver_version']}, "
      f"CUDA {probe['cuda_version']}, " +
      ", ".join(f"{g['index']}: {g['name']} sm {g['compute_capability']} {g['memory_bytes'] >> 20} MiB"
                for g in probe["gpus"]))
