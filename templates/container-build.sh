#!/bin/sh
# Runs inside the build container (mounted at /cwb/ctl/build.sh by cwb-agent), or on the host with
# the host runtime. Fixed text: every value of the task arrives as a file under $CWB_CTL or an
# environment variable, never spliced into this script.
#   $CWB_SRC  (/cwb/src)                  the project's source, checked out by the agent
#   $CWB_OUT  (/cwb/out)                  where wheels must end up
#   $CWB_CTL/requirements.txt             the project's dependencies (pip requirements), may be empty
#   $CWB_CTL/build_command.sh             the project's build_command, absent for the default
set -eu
src=${CWB_SRC:-/cwb/src}
ctl=${CWB_CTL:-/cwb/ctl}

# `python` and `pip` mean the matrix's Python inside the build, whatever the image calls it.
# (Wrappers, not links: a venv's Python must be started by its own path to know it is one.)
shims="${TMPDIR:-/tmp}/cwb-bin"
mkdir -p "$shims"
printf '#!/bin/sh\nexec cwb-python "$@"\n' > "$shims/python"
printf '#!/bin/sh\nexec cwb-python -m pip "$@"\n' > "$shims/pip"
chmod +x "$shims/python" "$shims/pip"
PATH="$shims:$PATH"
# Compile through ccache when the image has it (its cache is a per-agent mount).
if [ -d /usr/lib/ccache ]; then PATH="/usr/lib/ccache:$PATH"; fi
export PATH

echo "cwb: $(cwb-python --version 2>&1) for cuda ${CWB_CUDA_VERSION:-?}, torch ${CWB_PYTORCH_VERSION:-?}; MAX_JOBS=${MAX_JOBS:-unset}; TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-unset}; CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES:-unset}"
cd "$src"
if [ -s "$ctl/requirements.txt" ]; then
  echo "cwb: installing dependencies"
  cwb-python -m pip install -r "$ctl/requirements.txt"
fi
if [ -f "$ctl/build_command.sh" ]; then
  echo "cwb: running build_command"
  sh -e "$ctl/build_command.sh"
else
  echo "cwb: running pip wheel . --no-deps -w $CWB_OUT"
  cwb-python -m pip wheel . --no-deps -w "$CWB_OUT"
fi
