"""Runs the installed cwb_saxpy kernel on every visible GPU and checks it against torch.

python -m cwb_saxpy.check: the smoke test of the GPU proof, and its last check in a fresh venv."""
import sys

import torch
import cwb_saxpy

assert torch.cuda.is_available(), "no CUDA device visible"
for device in range(torch.cuda.device_count()):
    x = torch.randn(1 << 22, device=device)
    y = torch.randn(1 << 22, device=device)
    out = cwb_saxpy.saxpy(2.5, x, y)
    torch.cuda.synchronize(device)
    error = (out - (2.5 * x + y)).abs().max().item()
    name = torch.cuda.get_device_name(device)
    uuid = getattr(torch.cuda.get_device_properties(device), "uuid", "?")
    print(f"cwb_saxpy on cuda:{device} ({name}, sm {'.'.join(map(str, torch.cuda.get_device_capability(device)))}, "
          f"GPU-{uuid}): {x.numel()} elements, max |error| = {error:.3g}, "
          f"kernel ran on device {cwb_saxpy.device_of_last_launch()}")
    if not error < 1e-5 or cwb_saxpy.device_of_last_launch() != device:
        sys.exit(f"wrong result on cuda:{device}")
print("cwb_saxpy: all results correct")
