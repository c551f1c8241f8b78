#!/usr/bin/env bash
# `callroute compile` time and peak memory of two builds on the same generated configurations,
# the builds alternated (OLD, NEW, OLD, NEW, ...), then min-max per build (issue 14).
#
#   tests/bench/compile_compare.sh OLD_BUILD NEW_BUILD [ROUTES...]
#
# ROUTES defaults to 400000 100000 (1,000 rules, 1,000 users, written by NEW_BUILD's
# `callroute bench --generate`); RUNS (default 3) runs of each build. Each run prints wall
# seconds, peak resident KB and CPU seconds (user+system) from /usr/bin/time; the load
# average is printed before and after, since wall time follows it on a shared machine.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 OLD_BUILD NEW_BUILD [ROUTES...]" >&2; exit 2; }
old=$1/plugin-api/callroute
new=$2/plugin-api/callroute
shift 2
routes=("$@")
[ ${#routes[@]} -gt 0 ] || routes=(400000 100000)
runs=${RUNS:-3}
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (Debian package time)" >&2; exit 2; }
work=$(mktemp -d /tmp/compile-compare.XXXXXX)
trap 'rm -rf "$work"' EXIT

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for n in "${routes[@]}"; do
  "$new" bench --generate "routes=$n,rules=1000,users=1000" --save "$work/p$n.xml" \
    --seconds 0.1 >/dev/null
  : >"$work/times"
  for ((i = 1; i <= runs; i++)); do
    for b in OLD NEW; do
      bin=$old
      [ $b = NEW ] && bin=$new
      /usr/bin/time -o "$work/t" -f "%e %M %U %S" "$bin" compile --config "$work/p$n.xml" \
        -o "$work/$b.plan" >/dev/null
      read -r wall kb user sys <"$work/t"
      cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
      echo "$n routes $b: $wall s wall, $kb KB peak, $cpu s CPU"
      echo "$b $wall $kb $cpu" >>"$work/times"
    done
    cmp -s "$work/OLD.plan" "$work/NEW.plan" || { echo "the images differ" >&2; exit 1; }
  done
  for b in OLD NEW; do
    awk -v b=$b -v n=$n '$1 == b {
        if (!c++) { w0 = w1 = $2; k0 = k1 = $3; u0 = u1 = $4 }
        if ($2 < w0) w0 = $2; if ($2 > w1) w1 = $2; if ($3 < k0) k0 = $3; if ($3 > k1) k1 = $3
        if ($4 < u0) u0 = $4; if ($4 > u1) u1 = $4 }
      END { printf "%s routes %s: wall %.2f-%.2f s, peak %.1f-%.1f MB, CPU %.2f-%.2f s (%d runs)\n",
            n, b, w0, w1, k0 / 1024, k1 / 1024, u0, u1, c }' "$work/times"
  done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
