#!/usr/bin/env bash
# Run by DebPackageTest as root in a fresh Debian bookworm container (host network, for the
# mirror), with the packages in /debs and the source tree in /src (read-only): installs the
# three packages, checks what their maintainer scripts made, builds the quickstart's config with
# `cwb build --runtime host` (no container engine in here), then runs the coordinator unit's
# ExecStart as the unit's user with the files the package made. Prints "deb-test: ok" at the end.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
step() { echo "deb-test: $*"; }

step "installing $(cd /debs && echo *.deb)"
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends /debs/*.deb > /tmp/apt.log 2>&1 || { cat /tmp/apt.log; exit 1; }
grep -E "^(cwb-coordinator|cwb-agent):" /tmp/apt.log || true
cwb --version && cwb-agent --version && cwb-coordinator --version

step "what the packages made"
id cwb
[ "$(stat -c '%a %U' /etc/cwb/coordinator.env)" = "600 root" ]
[ "$(stat -c '%a %G' /etc/cwb/tls/server.key)" = "640 cwb" ]
[ "$(stat -c '%a' /etc/cwb/agent.env)" = "600" ]
grep -q '^CWB_CLIENT_TOKEN=[0-9a-f]\{64\}$' /etc/cwb/coordinator.env
unit=/usr/lib/systemd/system/cwb-coordinator.service
grep -q '^ExecStart=/usr/bin/cwb-coordinator ' "$unit"
grep -q '^ExecStart=/usr/bin/cwb-agent ' /usr/lib/systemd/system/cwb-agent.service

step "cwb build --runtime host on the quickstart config"
# The quickstart's cells are torch 2.4.0 (cpu); Debian's python3 has no torch, so a stand-in
# package says which one this host "has" (the demo packages never import it).
site=$(python3 -c 'import site; print(site.getsitepackages()[0])')
mkdir -p "$site/torch"
printf '__version__ = "2.4.0+cpu"\nclass version:\n    cuda = None\n' > "$site/torch/__init__.py"
mkdir -p /work && cp -r /src/examples /src/scripts /work/ && cd /work
bash scripts/make-example-repos.sh
cwb build examples/quickstart.yaml --runtime host --host-python /usr/bin/python3
find output/quickstart/wheelhouse -name '*.whl' | sort
[ "$(find output/quickstart/wheelhouse -name '*.whl' | wc -l)" = 2 ]
cwb coverage examples/quickstart.yaml

step "the coordinator unit's ExecStart, as user cwb"
install -d -o cwb -g cwb -m 0750 /var/lib/cwb   # systemd's StateDirectory=cwb
exec_start=$(sed -e ':a' -e '/\\$/N; s/\\\n//; ta' "$unit" | sed -n 's/^ExecStart=//p')
exec_start=${exec_start//:7600 /:0 }   # a free port each; the addresses stay the unit's
exec_start=${exec_start//:8080 /:0 }
set -a; . /etc/cwb/coordinator.env; set +a
echo "$exec_start"
eval "set -- $exec_start"   # $CWB_COORDINATOR_FLAGS expanded and split, as systemd does
setpriv --reuid=cwb --regid=cwb --clear-groups "$@" > /tmp/coordinator.log 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q '"address"' /tmp/coordinator.log && break; sleep 0.2; done
cat /tmp/coordinator.log
address=$(sed -n 's/.*"address":"\([^"]*\)".*/\1/p' /tmp/coordinator.log | head -1)
[ -n "$address" ]
printf '%s' "$CWB_CLIENT_TOKEN" > /root/client.token
cwb --coordinator "$address" --tls-ca /etc/cwb/tls/server.pem --token-file /root/client.token status
kill -TERM "$pid"
wait "$pid"
step ok
