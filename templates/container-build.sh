#!/bin/sh
# Runs inside the build container (mounted at /cwb/ctl/build.sh by cwb-agent), or on the host with
# the host runtime; `build.sh test` runs the smoke test in a fresh container instead. Fixed text:
# every value of the task arrives as a file under $CWB_CTL or an environment variable, never
# spliced into this script.
#   $CWB_SRC  (/cwb/src)                  the project's source, checked out by the agent
#   $CWB_OUT  (/cwb/out)                  where wheels must end up
#   $CWB_CTL/requirements.txt             the project's dependencies (pip requirements), may be empty
#   $CWB_CTL/build_command.sh             the project's build_command, absent for the default
#   $CWB_CTL/repair_command.sh            the project's repair_command, absent for none: run once
#                                         per built wheel ($CWB_WHEEL), its output wheels (in
#                                         $CWB_REPAIR_DIR, which is $CWB_OUT) replace the original
# $CWB_OUT/.cwb-stage says which stage ran last (build, repair), for the agent's failure message.
# The smoke test (`build.sh test`):
#   $CWB_WHEELS (/cwb/wheels)             the task's wheels (read-only), the only ones installed
#   $CWB_CTL/test_requirements.txt        the project's test_dependencies, may be empty
#   $CWB_CTL/test_command.sh              the project's test_command, run in $CWB_TEST_DIR
set -eu
stage=${1:-build}
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
if [ "$stage" = test ]; then
  if [ -s "$ctl/test_requirements.txt" ]; then
    echo "cwb: installing test_dependencies"
    cwb-python -m pip install -r "$ctl/test_requirements.txt"
  fi
  echo "cwb: installing" "$(cd "$CWB_WHEELS" && ls -- *.whl)"
  cwb-python -m pip install --no-deps "$CWB_WHEELS"/*.whl
  cd "$CWB_TEST_DIR"
  echo "cwb: running test_command"
  exec sh -e "$ctl/test_command.sh"
fi

cd "$src"
if [ -s "$ctl/requirements.txt" ]; then
  echo "cwb: installing dependencies"
  cwb-python -m pip install -r "$ctl/requirements.txt"
fi
out=${CWB_OUT:-/cwb/out}
echo build > "$out/.cwb-stage"
if [ -f "$ctl/build_command.sh" ]; then
  echo "cwb: running build_command"
  sh -e "$ctl/build_command.sh"
else
  echo "cwb: running pip wheel . --no-deps -w $CWB_OUT"
  cwb-python -m pip wheel . --no-deps -w "$CWB_OUT"
fi

if [ -f "$ctl/repair_command.sh" ]; then
  echo repair > "$out/.cwb-stage"
  built="$out/.cwb-unrepaired"
  rm -rf "$built"
  mkdir -p "$built"
  for wheel in "$out"/*.whl; do
    if [ -f "$wheel" ]; then mv "$wheel" "$built/"; fi
  done
  for wheel in "$built"/*.whl; do
    [ -f "$wheel" ] || continue
    before=$(ls "$out" | grep -c '\.whl$' || true)
    echo "cwb: running repair_command on $(basename "$wheel")"
    CWB_WHEEL="$wheel" CWB_REPAIR_DIR="$out" sh -e "$ctl/repair_command.sh"
    after=$(ls "$out" | grep -c '\.whl$' || true)
    if [ "$after" -le "$before" ]; then
      echo "cwb: repair_command wrote no wheel to \$CWB_REPAIR_DIR for $(basename "$wheel")" >&2
      exit 1
    fi
  done
  rm -rf "$built"
fi
