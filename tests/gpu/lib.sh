# What the GPU proofs share (sourced): `pids` (processes killed on exit), `step` (a heading) and
# `wait_for FILE REGEX` (waits up to 60 s for a line of FILE to match; prints the first match).
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true' EXIT
step() { printf '\n== %s\n' "$*"; }
wait_for() {
  for _ in $(seq 1 600); do
    if m=$(grep -oE "$2" "$1" | head -n1) && [ -n "$m" ]; then echo "$m"; return 0; fi
    sleep 0.1
  done
  echo "timed out waiting for /$2/ in $1" >&2; cat "$1" >&2; return 1
}
