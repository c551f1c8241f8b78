#!/usr/bin/env bash
# Two builds compile the same configurations to byte-identical plan images (issue 14: the
# streamed loader must not change what a configuration compiles to).
#
#   tests/bench/compile_identical.sh OLD_BUILD NEW_BUILD [ROUTES...]
#
# Compiles every XML file under examples/ and tests/ (CONFIG_DIRS, relative to the source
# tree) with both builds' `callroute compile` (a file one build refuses, broken and fuzz
# inputs included, must be refused by the other with the same messages), then configurations
# `callroute bench --generate` writes (with NEW_BUILD) at each of ROUTES routes (default
# 100 10000 100000 400000; 1,000 rules, 1,000 users), and compares the images with cmp.
# Prints one line a configuration and exits 1 at the first difference.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
[ $# -ge 2 ] || { echo "usage: $0 OLD_BUILD NEW_BUILD [ROUTES...]" >&2; exit 2; }
old=$1/plugin-api/callroute
new=$2/plugin-api/callroute
shift 2
routes=("$@")
[ ${#routes[@]} -gt 0 ] || routes=(100 10000 100000 400000)
for b in "$old" "$new"; do
  [ -x "$b" ] || { echo "no $b" >&2; exit 2; }
done
work=$(mktemp -d /tmp/compile-identical.XXXXXX)
trap 'rm -rf "$work"' EXIT

# compile NAME CONFIG: both builds, then the images (or the refusals) compared
compile() {
  local name=$1 cfg=$2 so sn
  set +e
  "$old" compile --config "$cfg" -o "$work/old.plan" >"$work/old.out" 2>&1
  so=$?
  "$new" compile --config "$cfg" -o "$work/new.plan" >"$work/new.out" 2>&1
  sn=$?
  set -e
  if [ "$so" != "$sn" ]; then
    echo "DIFFERENT $name: exit status $so (old) and $sn (new)"
    exit 1
  fi
  if [ "$so" != 0 ]; then
    # the messages, without the run's own paths and timings
    sed -i "s#$work#WORK#g; s# in [0-9]* ms##" "$work/old.out" "$work/new.out"
    if ! cmp -s "$work/old.out" "$work/new.out"; then
      echo "DIFFERENT $name: refused with different messages"
      diff "$work/old.out" "$work/new.out" | head -20
      exit 1
    fi
    echo "same     $name: refused by both (exit $so, same messages)"
  elif cmp "$work/old.plan" "$work/new.plan"; then
    echo "same     $name: $(stat -c %s "$work/new.plan") bytes"
  else
    echo "DIFFERENT $name: the plan images differ"
    exit 1
  fi
  rm -f "$work/old.plan" "$work/new.plan"
}

dirs=()
for d in ${CONFIG_DIRS:-examples tests}; do dirs+=("$top/$d"); done
while IFS= read -r f; do
  compile "${f#"$top"/}" "$f"
done < <(find "${dirs[@]}" -name '*.xml' | sort)

for n in "${routes[@]}"; do
  mkdir -p "$work/gen$n"
  "$new" bench --generate "routes=$n,rules=1000,users=1000" --save "$work/gen$n/p.xml" \
    --seconds 0.1 >/dev/null
  compile "generated, $n routes" "$work/gen$n/p.xml"
  rm -rf "$work/gen$n"
done
echo "all identical"
