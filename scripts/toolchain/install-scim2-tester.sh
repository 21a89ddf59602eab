#!/usr/bin/env bash
# Installs scim2-tester (an independent SCIM 2.0 conformance checker, with the httpx2 engine of
# its SCIM client) into a virtual environment in the cache folder, once per version:
# the SCIM integration test runs it against the portal's /scim/v2 endpoint.
# Prints "python=<path>".
set -euo pipefail
SCIM2_TESTER_VERSION="${IDC_SCIM2_TESTER_VERSION:-0.5.2}"
# Its SCIM client and models, pinned too: the checks a run makes depend on them.
SCIM2_CLIENT_VERSION="0.13.2"
SCIM2_MODELS_VERSION="0.12.3"
CACHE="${IDC_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/identity-center-operator}"
VENV="$CACHE/venv/scim2-tester-$SCIM2_TESTER_VERSION"
mkdir -p "$CACHE/venv"
# One install at a time: a second caller waits for the first and then finds it installed.
exec {lock}>"$CACHE/venv/.scim2-tester.lock"
flock -n "$lock" || { echo "[install-scim2-tester] waiting for another install" >&2; flock "$lock"; }
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import scim2_tester, scim2_client.engines.httpx2" 2>/dev/null; then
  command -v python3 >/dev/null || { echo "[install-scim2-tester] scim2-tester needs Python 3 on PATH" >&2; exit 1; }
  echo "[install-scim2-tester] installing scim2-tester==$SCIM2_TESTER_VERSION into $VENV" >&2
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "scim2-tester[httpx2]==$SCIM2_TESTER_VERSION" \
    "scim2-client==$SCIM2_CLIENT_VERSION" "scim2-models==$SCIM2_MODELS_VERSION" >&2
fi
echo "python=$VENV/bin/python"
