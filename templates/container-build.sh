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
export PATH

# The compile cache (the agent sets CWB_COMPILE_CACHE=1 and ccache's CCACHE_* settings: its
# directory, the shared store, the trust domain's key, a stats log): C and C++ compilers through a
# directory of links to ccache first in PATH (what make, setuptools and torch's ninja call), nvcc
# through a script there too, named by PYTORCH_NVCC (torch extensions) and CMake's launchers.
#  - nvcc's `--threads N` (NVCC_THREADS, which follows each attempt's share of cores) changes how
#    fast it compiles, not what: the launcher writes it --threads=N, which ccache leaves out of its
#    hash (CCACHE_IGNOREOPTIONS), so builds given other shares hit.
#  - what nvcc itself runs (its host compiler) is not cached again: ccache disables itself for the
#    processes it starts, so each nvcc call is cached whole.
#  - torch's nvcc dependency files (--generate-dependencies-with-compile) make ccache before
#    4.12.3 call nvcc uncacheable, and a build from a fresh checkout needs none:
#    TORCH_EXTENSION_SKIP_NVCC_GEN_DEPENDENCIES=1.
if [ "$stage" = build ] && [ "${CWB_COMPILE_CACHE:-0}" = 1 ]; then
  if ccache_bin=$(command -v ccache); then
    links="${TMPDIR:-/tmp}/cwb-ccache"
    mkdir -p "$links"
    nvcc_bin=""
    if [ -n "${CUDA_HOME:-}" ] && [ -x "$CUDA_HOME/bin/nvcc" ]; then nvcc_bin="$CUDA_HOME/bin/nvcc";
    else nvcc_bin=$(command -v nvcc || true); fi
    for compiler in cc c++ gcc g++ clang clang++ $(cd /usr/bin && ls x86_64-linux-gnu-gcc x86_64-linux-gnu-g++ x86_64-linux-gnu-gcc-[0-9]* x86_64-linux-gnu-g++-[0-9]* gcc-[0-9]* g++-[0-9]* 2>/dev/null); do
      command -v "$compiler" >/dev/null 2>&1 && ln -sf "$ccache_bin" "$links/$compiler"
    done
    cat > "$links/ccache-launch" <<LAUNCH
#!/bin/sh
# ccache with the command after it; nvcc's --threads N (or -t N) passed as --threads=N.
pending=
first=1
for arg do
  if [ -n "\$first" ]; then set --; first=; fi
  if [ -n "\$pending" ]; then set -- "\$@" "--threads=\$arg"; pending=; continue; fi
  case "\$arg" in --threads|-t) pending=1 ;; *) set -- "\$@" "\$arg" ;; esac
done
if [ -n "\$pending" ]; then set -- "\$@" --threads; fi
exec "$ccache_bin" "\$@"
LAUNCH
    chmod +x "$links/ccache-launch"
    if [ -n "$nvcc_bin" ]; then
      printf '#!/bin/sh\nexec "%s" "%s" "$@"\n' "$links/ccache-launch" "$nvcc_bin" > "$links/nvcc"
      chmod +x "$links/nvcc"
      if [ -z "${PYTORCH_NVCC:-}" ]; then export PYTORCH_NVCC="$links/nvcc"; fi
    fi
    # Compilers named by CC and CXX (torch's ninja and setuptools call those) go through it too.
    for var in CC CXX; do
      eval "named=\${$var:-}"
      case "$named" in ""|*ccache*|*" "*) continue ;; esac
      real=$(command -v "$named" 2>/dev/null) || continue
      printf '#!/bin/sh\nexec "%s" "%s" "$@"\n' "$ccache_bin" "$real" > "$links/cwb-$var"
      chmod +x "$links/cwb-$var"
      export "$var=$links/cwb-$var"
    done
    export CCACHE_IGNOREOPTIONS="${CCACHE_IGNOREOPTIONS:+$CCACHE_IGNOREOPTIONS }--threads=*"
    export CMAKE_C_COMPILER_LAUNCHER="${CMAKE_C_COMPILER_LAUNCHER:-$ccache_bin}"
    export CMAKE_CXX_COMPILER_LAUNCHER="${CMAKE_CXX_COMPILER_LAUNCHER:-$ccache_bin}"
    export CMAKE_CUDA_COMPILER_LAUNCHER="${CMAKE_CUDA_COMPILER_LAUNCHER:-$links/ccache-launch}"
    export TORCH_EXTENSION_SKIP_NVCC_GEN_DEPENDENCIES="${TORCH_EXTENSION_SKIP_NVCC_GEN_DEPENDENCIES:-1}"
    export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$src}"
    PATH="$links:$PATH"
    echo "cwb: compiling through $("$ccache_bin" --version | head -n 1)${nvcc_bin:+, nvcc too ($nvcc_bin)}${CXX:+; CXX=$CXX}"
  else
    echo "cwb: compile cache: this image has no ccache; compiles are not cached"
    unset CCACHE_REMOTE_STORAGE CCACHE_STATSLOG
  fi
fi

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
