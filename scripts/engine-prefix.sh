#!/bin/sh
# Checks the engine's prefixes in a build: every cr_ symbol libcr_engine.a defines is called by
# another layer (the other static libraries or plugin-api's objects), or declared in a public
# header (engine/include/, the interface the unit tests exercise); the engine's own functions
# are ce_. Lists what breaks the rule and exits 1 then.
#   scripts/engine-prefix.sh [BUILD_DIR]
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
lib=$build/engine/libcr_engine.a
[ -f "$lib" ] || { echo "engine-prefix: no $lib (build first)" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
nm -g --defined-only "$lib" | awk 'NF == 3 && $3 ~ /^cr_/ {print $3}' | sort -u >"$tmp/def"
find "$build" -name '*.a' ! -name libcr_engine.a >"$tmp/users"
find "$build/plugin-api" -name '*.o' >>"$tmp/users"
while read -r f; do nm -u "$f" 2>/dev/null | awk '{print $NF}'; done <"$tmp/users" | sort -u >"$tmp/und"
comm -23 "$tmp/def" "$tmp/und" >"$tmp/inside"
bad=0
while read -r s; do
  if grep -qw "$s" "$top"/engine/include/*.h; then
    echo "public (engine/include/), called by no other layer: $s"
  else
    echo "engine-internal with the cr_ prefix (should be ce_): $s"
    bad=1
  fi
done <"$tmp/inside"
echo "engine-prefix: $(wc -l <"$tmp/def") cr_ symbols in libcr_engine.a," \
  "$(comm -12 "$tmp/def" "$tmp/und" | wc -l) called by other layers," \
  "$(nm -g --defined-only "$lib" | awk 'NF == 3 && $3 ~ /^ce_/' | wc -l) ce_ symbols"
exit $bad
