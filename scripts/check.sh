#!/usr/bin/env bash
# `npm run check`: typecheck, lint (eslint + layer rules), format check and generated-file drift.
# The typecheck and eslint are the slow parts and each uses one core, so they run side by side;
# each job's output is printed whole when it ends, and the check fails if any job fails.
# tsc's incremental state and prettier's cache live outside the checkout (per checkout path) so a
# fresh clone in CI reuses them; both are exact (tsc follows every dependency, prettier formats
# file by file). eslint's own cache is not used: its typed rules read other files' types, which
# that cache does not track. Instead a tree that passed eslint is remembered by the hash of every
# file eslint could read (tracked and untracked, not ignored) and of the installed packages: the
# same tree with the same tools gives the same answer, so only an unchanged tree skips it.
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
eslint_key=$(
  {
    git ls-files -z -co --exclude-standard | xargs -0 sha1sum 2>/dev/null
    sha1sum node_modules/.package-lock.json eslint.config.* 2>/dev/null
  } | sha1sum | cut -c1-40
)
# Shared by every checkout: the key is the content, wherever it lies.
eslint_ok="$base/check/eslint-ok/$eslint_key"
lint() {
  if git rev-parse --git-dir >/dev/null 2>&1 && [ -e "$eslint_ok" ]; then
    echo "eslint: this exact tree passed before ($eslint_key)"
    return 0
  fi
  "$bin/eslint" . --max-warnings 0 || return $?
  mkdir -p "$base/check/eslint-ok"
  touch "$eslint_ok"
  # Keep the newest few: a marker is only ever an exact match of a whole tree.
  ls -1t "$base/check/eslint-ok" | tail -n +21 | while read -r old; do rm -f "$base/check/eslint-ok/$old"; done
}
run eslint lint
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
