#!/bin/sh
# Checks the libraries' prefixes in a build: every cr_ symbol a static library (libcr_engine.a,
# libcr_xml.a, ...) defines is called by another layer (the other static libraries or
# plugin-api's objects), or declared in the library's public headers (its include/, the
# interface the unit tests exercise); a library's own functions have its internal prefix:
# cdl_ dl, ce_ engine, cx_ xml, cd_ directory, cu_ rules, cw_ workflows, cl_ lua. Lists what breaks
# the rule and exits 1 then.
#   scripts/engine-prefix.sh [BUILD_DIR]
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bad=0
for pair in dl:cdl_ engine:ce_ xml:cx_ directory:cd_ rules:cu_ workflows:cw_ lua:cl_; do
  name=${pair%%:*}
  own=${pair#*:}
  lib=$build/$name/libcr_$name.a
  [ -f "$lib" ] || { echo "engine-prefix: no $lib (build first)" >&2; exit 2; }
  nm -g --defined-only "$lib" | awk 'NF == 3 && $3 ~ /^cr_/ {print $3}' | sort -u >"$tmp/def"
  find "$build" -name '*.a' ! -name "libcr_$name.a" >"$tmp/users"
  find "$build/plugin-api" -name '*.o' >>"$tmp/users"
  while read -r f; do nm -u "$f" 2>/dev/null | awk '{print $NF}'; done <"$tmp/users" |
    sort -u >"$tmp/und"
  comm -23 "$tmp/def" "$tmp/und" >"$tmp/inside"
  while read -r s; do
    if grep -qw "$s" "$top/$name"/include/*.h; then
      echo "public ($name/include/), called by no other layer: $s"
    else
      echo "$name-internal with the cr_ prefix (should be $own): $s"
      bad=1
    fi
  done <"$tmp/inside"
  echo "engine-prefix: $(wc -l <"$tmp/def") cr_ symbols in libcr_$name.a," \
    "$(comm -12 "$tmp/def" "$tmp/und" | wc -l) called by other layers," \
    "$(nm -g --defined-only "$lib" | awk -v p="^$own" 'NF == 3 && $3 ~ p' | wc -l) $own symbols"
done
exit $bad
