#!/bin/sh
# Runs inside the build container (mounted at /cwb/ctl/build.sh by cwb-agent). Fixed text: every
# value of the task arrives as a file under /cwb/ctl or an environment variable, never spliced
# into this script.
#   /cwb/src                  the project's source, checked out by the agent
#   /cwb/out ($CWB_OUT)       where wheels must end up
#   /cwb/ctl/requirements.txt the project's dependencies (pip requirements), may be empty
#   /cwb/ctl/build_command.sh the project's build_command, absent for the default
set -eu

# `python` and `pip` mean the matrix's Python inside the build, whatever the image calls it.
mkdir -p /tmp/cwb-bin
ln -sf "$(command -v cwb-python)" /tmp/cwb-bin/python
printf '#!/bin/sh\nexec cwb-python -m pip "$@"\n' > /tmp/cwb-bin/pip
chmod +x /tmp/cwb-bin/pip
PATH="/tmp/cwb-bin:$PATH"
# Compile through ccache when the image has it (its cache is a per-agent mount).
if [ -d /usr/lib/ccache ]; then PATH="/usr/lib/ccache:$PATH"; fi
export PATH

echo "cwb: $(cwb-python --version 2>&1) for cuda ${CWB_CUDA_VERSION:-?}, torch ${CWB_PYTORCH_VERSION:-?}; MAX_JOBS=${MAX_JOBS:-unset}"
cd /cwb/src
if [ -s /cwb/ctl/requirements.txt ]; then
  echo "cwb: installing dependencies"
  cwb-python -m pip install -r /cwb/ctl/requirements.txt
fi
if [ -f /cwb/ctl/build_command.sh ]; then
  echo "cwb: running build_command"
  sh -e /cwb/ctl/build_command.sh
else
  echo "cwb: running pip wheel . --no-deps -w $CWB_OUT"
  cwb-python -m pip wheel . --no-deps -w "$CWB_OUT"
fi
