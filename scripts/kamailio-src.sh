#!/usr/bin/env bash
# Fetches Debian's Kamailio source (matching the installed kamailio package) into .deps/,
# runs its `make cfg` with Debian's flags, and records the tree in .deps/kamailio-src-dir.
# Does nothing when already done for the installed version.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
deps=$top/.deps
mkdir -p "$deps"
ver=$(dpkg-query -W -f='${Version}' kamailio 2>/dev/null || true)
[ -n "$ver" ] || { echo "kamailio-src: kamailio is not installed" >&2; exit 1; }
upver=${ver%%-*}
if [ -f "$deps/kamailio-src-dir" ] && [ -f "$(cat "$deps/kamailio-src-dir")/src/config.mak" ] \
   && [ "$(cat "$deps/kamailio-src-version" 2>/dev/null)" = "$ver" ]; then
  exit 0
fi
if ! grep -rqs "^Types: deb-src" /etc/apt/sources.list.d/ /etc/apt/sources.list 2>/dev/null; then
  sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources \
    > /etc/apt/sources.list.d/debian-src.sources
  apt-get update -qq
fi
cd "$deps"
rm -rf kamailio-"$upver"
apt-get source -qq "kamailio=$ver" >/dev/null 2>&1
srcdir=$deps/kamailio-$upver
[ -d "$srcdir/src/core" ] || { echo "kamailio-src: no source tree in $srcdir" >&2; exit 1; }
(
  cd "$srcdir/src"
  export DEB_BUILD_MAINT_OPTIONS=hardening=+all
  make cfg prefix=/usr cfg_target=/etc/kamailio/ FLAVOUR=kamailio group_include=kstandard \
    CC_EXTRA_OPTS="$(dpkg-buildflags --get CPPFLAGS) $(dpkg-buildflags --get CFLAGS) -DVERSION_NODATE" \
    LD_EXTRA_OPTS="$(dpkg-buildflags --get LDFLAGS)" >/dev/null 2>&1
)
[ -f "$srcdir/src/config.mak" ] || { echo "kamailio-src: make cfg failed" >&2; exit 1; }
echo "$srcdir" > "$deps/kamailio-src-dir"
echo "$ver" > "$deps/kamailio-src-version"
echo "kamailio-src: $srcdir ready"
