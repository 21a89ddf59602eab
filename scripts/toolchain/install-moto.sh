#!/usr/bin/env bash
# Installs moto (the AWS emulator the integration tests use for IAM and STS) into a virtual
# environment in the cache folder, once per version. Prints "moto_server=<path>".
set -euo pipefail
MOTO_VERSION="${IDC_MOTO_VERSION:-5.2.5}"
CACHE="${IDC_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/identity-center-operator}"
VENV="$CACHE/venv/moto-$MOTO_VERSION"
mkdir -p "$CACHE/venv"
# One install at a time: a second caller waits for the first and then finds moto installed.
exec {lock}>"$CACHE/venv/.moto.lock"
flock -n "$lock" || { echo "[install-moto] waiting for another install of moto" >&2; flock "$lock"; }
if [ ! -x "$VENV/bin/moto_server" ]; then
  echo "[install-moto] installing moto[server]==$MOTO_VERSION into $VENV" >&2
  command -v python3 >/dev/null || { echo "[install-moto] moto needs Python 3 on PATH" >&2; exit 1; }
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION" >&2
fi
echo "moto_server=$VENV/bin/moto_server"
