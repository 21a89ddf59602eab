#!/usr/bin/env bash
# Installs boto3 and botocore (the AWS SDK for Python, unpatched) into a virtual environment in
# the cache folder, once per version: the SSO sign-in tests drive them against the portal.
# Prints "python=<path>".
set -euo pipefail
BOTO3_VERSION="${IDC_BOTO3_VERSION:-1.44.5}"
CACHE="${IDC_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/identity-center-operator}"
VENV="$CACHE/venv/boto3-$BOTO3_VERSION"
mkdir -p "$CACHE/venv"
# One install at a time: a second caller waits for the first and then finds boto3 installed.
exec {lock}>"$CACHE/venv/.boto3.lock"
flock -n "$lock" || { echo "[install-boto3] waiting for another install of boto3" >&2; flock "$lock"; }
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import boto3" 2>/dev/null; then
  command -v python3 >/dev/null || { echo "[install-boto3] boto3 needs Python 3 on PATH" >&2; exit 1; }
  echo "[install-boto3] installing boto3==$BOTO3_VERSION into $VENV" >&2
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "boto3==$BOTO3_VERSION" "botocore==$BOTO3_VERSION" >&2
fi
echo "python=$VENV/bin/python"
