#!/usr/bin/env bash
# Installs the build into a staging root and uses it as a host would: the library file is
# named as its SONAME, pkg-config and find_package(callroute) both find it, and a program
# built against the installed header and library runs.
#   install.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1 src=$2
stage=$(mktemp -d "${TMPDIR:-/tmp}/callroute-stage.XXXXXX")
trap 'rm -rf "$stage"' EXIT
cmake --install "$build" --prefix "$stage" >/dev/null
lib=$(find "$stage" -name 'libcallroute.so.*' -type f)
[ -n "$lib" ] || { echo "FAIL: no libcallroute.so.* file installed" >&2; exit 1; }
soname=$(readelf -d "$lib" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
[ "$(basename "$lib")" = "$soname" ] || { echo "FAIL: file $(basename "$lib") but SONAME $soname" >&2; exit 1; }
libdir=$(dirname "$lib")
PKG_CONFIG_PATH=$libdir/pkgconfig pkg-config --exists callroute \
    || { echo "FAIL: pkg-config does not find callroute" >&2; exit 1; }
cmake -S "$src/tests/abi/consumer" -B "$stage/consumer" -DCMAKE_PREFIX_PATH="$stage" >/dev/null
cmake --build "$stage/consumer" >/dev/null
# a sanitizer build of the library needs its runtime loaded first in a plain host
preload=$(ldd "$lib" | sed -n 's/.*=> \(\/[^ ]*lib\(asan\|ubsan\)\.so[^ ]*\).*/\1/p' | paste -sd: -)
ver=$(LD_LIBRARY_PATH=$libdir LD_PRELOAD=$preload ASAN_OPTIONS=detect_leaks=0 "$stage/consumer/consumer")
echo "ok: installed $soname; find_package and pkg-config find it; a host built against it reads ABI $ver"
