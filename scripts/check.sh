#!/usr/bin/env bash
# `npm run check`: typecheck, lint (eslint + layer rules), format check and generated-file drift.
# The typecheck and eslint are the slow parts and each uses one core, so they run side by side;
# each job's output is printed whole when it ends, and the check fails if any job fails.
# tsc's incremental state and prettier's cache live outside the checkout (per checkout path) so a
# fresh clone in CI reuses them; both are exact (tsc follows every dependency, prettier formats
# file by file). eslint is not cached: its typed rules read other files' types, which its cache
# does not track.
set -uo pipefail
cd "$(dirname "$0")/.."

base="${IDC_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/identity-center-operator}"
cache="$base/check/$(pwd -P | sha1sum | cut -c1-12)"
mkdir -p "$cache"
bin=node_modules/.bin
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

run() { # name, command...
  local name=$1
  shift
  ("$@" >"$logs/$name" 2>&1
    echo $? >"$logs/$name.rc") &
}

run typecheck "$bin/tsc" -p tsconfig.json --noEmit --incremental --tsBuildInfoFile "$cache/tsbuildinfo"
run eslint "$bin/eslint" . --max-warnings 0
run layers "$bin/depcruise" src scripts bench test --config .dependency-cruiser.js --output-type err
run format "$bin/prettier" --check . --cache --cache-strategy content --cache-location "$cache/prettier"
run generated "$bin/node" scripts/generate.ts --check
wait

failed=0
for name in typecheck eslint layers format generated; do
  rc=$(cat "$logs/$name.rc")
  printf '== %s: %s\n' "$name" "$([ "$rc" -eq 0 ] && echo ok || echo "FAILED ($rc)")"
  [ "$rc" -eq 0 ] || { cat "$logs/$name"; failed=1; }
done
exit "$failed"
