#!/usr/bin/env bash
# Turns the demo packages into git repositories under examples/repos (what a user's projects
# would be), tagging the C extension's first commit v0.1.0. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
export GIT_AUTHOR_NAME=cwb GIT_AUTHOR_EMAIL=cwb@example.invalid
export GIT_COMMITTER_NAME=cwb GIT_COMMITTER_EMAIL=cwb@example.invalid
for pair in cwb-demo:demo-package cwb-demo-pure:demo-pure-package; do
  name=${pair%%:*} source=examples/${pair#*:} repo=examples/repos/${pair%%:*}
  [ -d "$repo/.git" ] && continue
  mkdir -p "$repo"
  cp -r "$source"/. "$repo"/
  git -C "$repo" init -q -b main
  git -C "$repo" add -A
  git -C "$repo" commit -q -m "$name 0.1.0"
  git -C "$repo" tag v0.1.0
  echo "make-example-repos: created $repo"
done
