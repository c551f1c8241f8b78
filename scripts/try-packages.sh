#!/usr/bin/env bash
# Builds the Debian packages (scripts/package.sh), installs them, and runs the demo
# (scripts/demo.sh) with the installed module and library instead of the build tree's:
#
#   scripts/try-packages.sh            unpacks them into a staging root (no root needed)
#   scripts/try-packages.sh --system   installs them on this machine with apt-get
#
# PKG_DIR=DIR uses the .debs already in DIR instead of building them.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
mode=${1:-stage}
dist=${PKG_DIR:-}
if [ -z "$dist" ]; then
    dist=$(mktemp -d "${TMPDIR:-/tmp}/callroute-dist.XXXXXX")
    "$top/scripts/package.sh" "$top/build-pkg" "$dist"
fi
debs=("$dist"/*.deb)
triplet=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)
if [ "$mode" = --system ]; then
    apt-get install -y "${debs[@]}"
    root=
else
    root=$(mktemp -d "${TMPDIR:-/tmp}/callroute-root.XXXXXX")
    for d in "${debs[@]}"; do dpkg -x "$d" "$root"; done
fi
export CR_MODULE=$root/usr/lib/$triplet/kamailio/modules/callroute.so
export CR_LIBRARY=$root/usr/lib/$triplet/libcallroute.so.1
echo "installed: $("$root/usr/bin/callroute" --version | tr '\n' ';')"
DEMO_SKIP_SETUP=1 "$top/scripts/demo.sh" "$top/build"
