#!/usr/bin/env bash
# What `npm test` needs from the machine besides Node and npm: Debian's xmlsec1 (the SAML tests
# verify signatures with it), chromium (the browser tests) and faketime (libfaketime shifts one
# controller's clock in the two-replica leader election test) and PHP with its XML and mbstring
# extensions (SimpleSAMLphp, the upstream SAML IdP, runs on it; install-simplesamlphp.sh
# unpacks SimpleSAMLphp itself). Installs them when it can (root
# with apt-get); otherwise stops at once and names the command to run. Go and Python 3, which
# build the cached test binaries, are checked by build-binaries.sh and install-moto.sh.
set -euo pipefail

missing=()
command -v xmlsec1 >/dev/null || missing+=(xmlsec1)
[ -x "${IDC_CHROMIUM:-/usr/bin/chromium}" ] || missing+=(chromium)
dpkg -L libfaketime 2>/dev/null | grep -q '/libfaketime.so.1$' || missing+=(faketime)
command -v php >/dev/null || missing+=(php-cli)
php -m 2>/dev/null | grep -qx dom || missing+=(php-xml)
php -m 2>/dev/null | grep -qx mbstring || missing+=(php-mbstring)
[ "${#missing[@]}" -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  echo "[test-prerequisites] installing ${missing[*]} with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  exit 0
fi

{
  echo "npm test needs ${missing[*]}, which this machine lacks. Install them with:"
  echo "  sudo apt-get install -y --no-install-recommends ${missing[*]}"
  echo "(or set IDC_CHROMIUM to a Chromium binary), then run npm test again."
} >&2
exit 1
