#!/usr/bin/env bash
# Installs the build into a staging root and runs what was installed from there: the CLI
# loads the staged library (not the build tree's), the module lands in a kamailio/modules
# directory and Kamailio loads it with the staged library, and the man page and bash
# completion are installed.
#   install_cli.sh BUILD_DIR SOURCE_DIR
set -uo pipefail
build=$1 src=$2
stage=$(mktemp -d "${TMPDIR:-/tmp}/callroute-stage.XXXXXX")
trap 'rm -rf "$stage"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
cmake --install "$build" --prefix "$stage" >/dev/null || fail "cmake --install"
cli=$stage/bin/callroute
[ -x "$cli" ] || fail "no bin/callroute"
# no build-tree RUNPATH in the installed program
if readelf -d "$cli" | grep -qE 'R(UN)?PATH'; then
  readelf -d "$cli" | grep -E 'R(UN)?PATH' | grep -q "$build" && fail "bin/callroute has a build-tree RUNPATH"
fi
export ASAN_OPTIONS=detect_leaks=0 CALLROUTE_QUIET=1
ver=$(env -u CALLROUTE_LIBRARY "$cli" --version) || fail "callroute --version: $ver"
grep -q "^libcallroute .* $stage/" <<<"$ver" || fail "the installed CLI loaded another library: $ver"
out=$("$cli" route --config "$src/examples/contoso/contoso.xml" --from sip:alice@contoso.com +14255550199 --json) \
  || fail "installed callroute route: $out"
grep -q '"outbound"' <<<"$out" || fail "installed callroute route: $out"
module=$(find "$stage" -path '*/kamailio/modules/callroute.so' | head -1)
[ -n "$module" ] || fail "no kamailio/modules/callroute.so installed"
lib=$(find "$stage" -name libcallroute.so.1 -type f | head -1)
[ -f "$stage/share/man/man1/callroute.1" ] || fail "no man page installed"
[ -f "$stage/share/bash-completion/completions/callroute" ] || fail "no bash completion installed"
# Kamailio checks the example configuration with the staged module and library
if command -v kamailio >/dev/null; then
  # a sanitizer build of the module needs its runtime loaded first in the plain kamailio
  preload=$(ldd "$module" "$lib" | sed -n 's/.*=> \(\/[^ ]*lib\(asan\|ubsan\)\.so[^ ]*\).*/\1/p' | sort -u | paste -sd: -)
  kout=$(LD_PRELOAD=$preload kamailio -c -f "$src/examples/kamailio/kamailio.cfg" -A "CR_MODULE=\"$module\"" \
         -A "CR_LIBRARY=\"$lib\"" -A "CR_CONFIG=\"$src/examples/contoso/contoso.xml\"" \
         -A "CTL_SOCKET=\"unix:$stage/ctl\"" 2>&1) || { echo "$kout" | tail -5 >&2; fail "kamailio -c with the staged module"; }
fi
echo "ok: installed into $stage: the CLI runs with $(basename "$lib") of the stage, the module is at ${module#$stage/}"
