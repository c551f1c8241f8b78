#!/usr/bin/env bash
# Sets up everything callroute needs on a Debian bookworm machine, then builds it.
#   scripts/setup.sh [BUILD_DIR] [extra cmake args...]
# Installs Debian packages (when missing), fetches Kamailio's source headers for the module
# (never committed: .deps/ is ignored), configures and builds. Idempotent and quiet when
# everything is already there.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
shift || true

packages=(build-essential cmake pkg-config git libpcre2-dev libxml2-dev libxxhash-dev liblmdb-dev lmdb-utils
          liblua5.4-dev lua5.4 lua-check libcmocka-dev kamailio kamailio-extra-modules sip-tester
          dpkg-dev valgrind clang libclang-rt-14-dev python3 procps iproute2 rtpengine-daemon strace)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Kamailio's headers for the module come from Debian's source package (see
# shared/notes/kamailio-host.md); config.mak holds the exact defines the packaged core uses.
"$top/scripts/kamailio-src.sh"
kam_src=$(cat "$top/.deps/kamailio-src-dir" 2>/dev/null || true)

cmake -S "$top" -B "$build" -DKAMAILIO_SRC="$kam_src" "$@" >/dev/null
cmake --build "$build" -j"$(nproc)" 2>&1 | grep -E "warning|error|Error" || true
cmake --build "$build" -j"$(nproc)" >/dev/null
echo "setup: built in $build"
