#!/usr/bin/env bash
# Unpacks SimpleSAMLphp (the upstream SAML IdP the upstream sign-in tests use) from Debian's
# own package into the cache folder, once per version: only its files, so that installing it
# neither pulls in nor starts a web server (the tests run it with PHP's built-in server).
# PHP itself (php-cli, php-xml, php-mbstring) comes from test-prerequisites.sh.
# Prints "simplesamlphp=<folder with www/, lib/, modules/>".
set -euo pipefail
CACHE="${IDC_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/identity-center-operator}"
mkdir -p "$CACHE/simplesamlphp"
exec {lock}>"$CACHE/simplesamlphp/.install.lock"
flock -n "$lock" || { echo "[install-simplesamlphp] waiting for another install" >&2; flock "$lock"; }
# The version Debian bookworm serves now (security updates included), unless one is asked for.
VERSION="${IDC_SIMPLESAMLPHP_VERSION:-}"
if [ -z "$VERSION" ]; then
  VERSION=$(apt-cache policy simplesamlphp 2>/dev/null | awk '/Candidate:/ {print $2}')
  if [ -z "$VERSION" ] || [ "$VERSION" = "(none)" ]; then
    # No package index (apt-get update never ran): use the newest copy already unpacked.
    VERSION=$(ls "$CACHE/simplesamlphp" 2>/dev/null | grep -v '^\.' | sort -V | tail -1 || true)
  fi
fi
[ -n "$VERSION" ] || { echo "[install-simplesamlphp] Debian's simplesamlphp is not in the package index; run apt-get update" >&2; exit 1; }
DEST="$CACHE/simplesamlphp/$VERSION"
if [ ! -f "$DEST/www/saml2/idp/SSOService.php" ]; then
  command -v apt-get >/dev/null || { echo "[install-simplesamlphp] needs apt-get (Debian)" >&2; exit 1; }
  echo "[install-simplesamlphp] unpacking simplesamlphp $VERSION into $DEST" >&2
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && apt-get download -qq "simplesamlphp=$VERSION" 2>/dev/null) \
    || (cd "$work" && apt-get download -qq "simplesamlphp=$VERSION")
  dpkg-deb -x "$work"/simplesamlphp_*.deb "$work/root"
  rm -rf "$DEST"
  # The package's config/ is a symlink to /etc; the harness points SIMPLESAMLPHP_CONFIG_DIR
  # at a folder of its own instead.
  mv "$work/root/usr/share/simplesamlphp" "$DEST"
fi
echo "simplesamlphp=$DEST"
