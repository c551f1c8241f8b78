#!/usr/bin/env bash
# goals.sh — every figure of issue 17's goals, each program pinned to one vCPU after the
# other, three times, with the min–max of each figure per vCPU: the README's figures, from
# one command.
#
#   tests/bench/goals.sh BUILD [OLD] [OUT]
#
# BUILD is a build directory (build/); OLD, when given, a directory holding an older build's
# libcallroute-bench.so, libcallroute.so.1, callroute (beside its libcallroute.so.1) and
# lua_bench (and, when it has one, directory_bench): the decision and response-group figures
# then alternate both libraries in one process (`callroute bench --baseline`), `route --batch`
# compares both binaries' outputs byte for byte, and the Lua step and the directory run OLD's
# lua_bench and directory_bench after each of BUILD's. OUT (a new temporary
# directory) keeps every program's output, one file per run.
#
# On a VM the vCPUs need not be equally fast (on the one these figures come from, one was up
# to 1.6× slower than the other for minutes at a time, and which one changed): a process keeps
# the vCPU it starts on, so an unpinned figure is whichever vCPU it landed on. Each program
# here runs under `taskset -c N` for every N of GOALS_CPUS (all online vCPUs), so both
# speeds are reported.
#
# Environment: GOALS_CPUS ("0 1"), GOALS_RUNS (3), GOALS_PLANS (a directory with p100.xml,
# p10000.xml and p400000.xml from `callroute bench --generate routes=N,rules=1000,users=100000
# --save`; generated into OUT when unset), GOALS_SKIP (names of parts to leave out: lua
# decisions growth rgs cli floor directory memory), GOALS_SUMMARY_ONLY (1: only the summary
# of the outputs already in OUT). Takes about 5 minutes a vCPU.
set -euo pipefail

if [ $# -lt 1 ] || [ ! -x "$1/plugin-api/callroute" ]; then
  echo "usage: goals.sh BUILD [OLD] [OUT]  (BUILD/plugin-api/callroute must exist)" >&2
  exit 2
fi
b=$(cd "$1" && pwd)
old=${2:-}
out=${3:-$(mktemp -d /tmp/callroute-goals-XXXXXX)}
if [ -n "$old" ]; then old=$(cd "$old" && pwd); fi
mkdir -p "$out"
src=$(cd "$(dirname "$0")/../.." && pwd)
runs=${GOALS_RUNS:-3}
cpus=${GOALS_CPUS:-$(seq -s ' ' 0 $(($(nproc) - 1)))}
skip=" ${GOALS_SKIP:-} "
cr=$b/plugin-api/callroute
gen=routes=10000,rules=1000,users=100000

want() { [[ $skip != *" $1 "* ]]; }
log() { echo "== $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg) $*" >&2; }

if [ -z "${GOALS_SUMMARY_ONLY:-}" ]; then
  plans=${GOALS_PLANS:-}
  if [ -z "$plans" ]; then
    plans=$out/plans
    mkdir -p "$plans"
    for n in 100 10000 400000; do
      [ -f "$plans/p$n.xml" ] && continue
      log "generating p$n.xml"
      CALLROUTE_QUIET=1 "$cr" bench --generate routes=$n,rules=1000,users=100000 --seconds 0.1 \
        --save "$plans/p$n.xml" >/dev/null
    done
  fi

  for c in $cpus; do
    d=$out/cpu$c
    mkdir -p "$d"
    pin=(taskset -c "$c")
    if want lua; then
      log "cpu$c: call:ask step"
      for i in $(seq "$runs"); do
        "${pin[@]}" "$b/tests/lua/lua_bench" --only ask >"$d/lua_new_$i.txt" 2>&1
        if [ -n "$old" ]; then
          "${pin[@]}" "$old/lua_bench" --only ask >"$d/lua_old_$i.txt" 2>&1
        fi
      done
    fi
    if want decisions; then
      log "cpu$c: decisions at 10,000 routes"
      "${pin[@]}" "$cr" bench --generate $gen --seconds 5 --runs "$runs" \
        ${old:+--baseline "$old/libcallroute-bench.so"} >"$d/decisions.txt" 2>&1
    fi
    if want growth; then
      log "cpu$c: growth from 100 to 400,000 routes"
      "${pin[@]}" "$b/tests/bench/growth" "$plans/p100.xml" "$plans/p400000.xml" --seconds 5 \
        --rounds "$runs" >"$d/growth.txt" 2>&1
    fi
    if want rgs; then
      log "cpu$c: response-group events"
      "${pin[@]}" "$cr" bench --rgs --agents 100000 --groups 10000 --waiting 50000 \
        --events 1000000 --runs "$runs" ${old:+--baseline "$old/libcallroute.so.1"} 2>&1 |
        grep -v ': warning: ' >"$d/rgs.txt"
    fi
    if want cli; then
      log "cpu$c: route --batch"
      BATCH_RUNS=$runs "${pin[@]}" "$src/tests/bench/bench_cli.sh" "$cr" batch \
        "${old:-$b/plugin-api}/callroute" >"$d/cli.txt" 2>&1
    fi
    if want floor; then
      log "cpu$c: floor"
      for i in $(seq "$runs"); do
        "${pin[@]}" "$b/tests/bench/floor" --bench-lib "$b/plugin-api/libcallroute-bench.so" \
          --max-routes 400000 >"$d/floor_$i.txt" 2>&1
      done
    fi
    if want directory; then
      log "cpu$c: directory"
      for i in $(seq "$runs"); do
        "${pin[@]}" "$b/tests/users/directory_bench" --users 2000000 --lookups 1000000 \
          >"$d/directory_$i.txt" 2>&1
        if [ -n "$old" ] && [ -x "$old/directory_bench" ]; then
          "${pin[@]}" "$old/directory_bench" --users 2000000 --lookups 1000000 \
            >"$d/directory_old_$i.txt" 2>&1
        fi
      done
    fi
  done
  if want memory; then
    log "memory per waiting call"
    for i in $(seq "$runs"); do
      "$b/tests/lua/lua_bench" --only calls 10000 >"$out/memory_$i.txt" 2>&1
    done
  fi
  log "done: $out"
fi

# --- the summary: one row per figure and vCPU, min–max over the runs ---
# range : the numbers on stdin as "min–max (n runs)"
range() {
  sort -g | awk 'NF {v[++n] = $1} END {
    if (n == 0) { print "-"; exit }
    printf "%s–%s (%d)", v[1], v[n], n }'
}
# count_le LIMIT : how many numbers on stdin are <= LIMIT, as "k of n"
count_le() { awk -v l="$1" 'NF {n++; if ($1 <= l) k++} END {printf "%d of %d", k, n}'; }
count_ge() { awk -v l="$1" 'NF {n++; if ($1 >= l) k++} END {printf "%d of %d", k, n}'; }
field() { sed -n "s#$1#\\1#p" "${@:2}" 2>/dev/null || true; }

echo
echo "| figure | goal | vCPU | NEW, min–max (runs) | met | OLD, min–max |"
echo "|---|---|---|---|---|---|"
for c in $cpus; do
  d=$out/cpu$c
  row() { echo "| $1 | $2 | $c | $3 | $4 | ${5:--} |"; }
  if want decisions; then
    if [ -n "$old" ]; then
      new=$(field '^  run [0-9]* .*| after p50 *\([0-9]*\) ns.*' "$d/decisions.txt")
      was=$(field '^  run [0-9]*  before p50 *\([0-9]*\) ns.*' "$d/decisions.txt" | range)
    else
      new=$(field '^decisions .* p50 \([0-9]*\) ns.*' "$d/decisions.txt")
      was=
    fi
    row "decision p50, 10,000 routes (ns)" "≤ 300" "$(range <<<"$new")" \
      "$(count_le 300 <<<"$new")" "$was"
  fi
  if want growth; then
    g=$(field '^round .*growth \([0-9.]*\)x$' "$d/growth.txt")
    row "decision p50 growth, 100 → 400,000 routes" "≤ 1.2×" "$(range <<<"$g")" \
      "$(count_le 1.2 <<<"$g")"
  fi
  if want rgs; then
    if [ -n "$old" ]; then
      new=$(field '.*| after *\([0-9]*\) events/s.*' "$d/rgs.txt")
      p99=$(field '.*| after .* p99 *\([0-9]*\) ns |.*' "$d/rgs.txt")
      was=$(field '.*before *\([0-9]*\) events/s p50.*' "$d/rgs.txt" | range)
    else
      new=$(field '^events .* at \([0-9]*\) events/s.*' "$d/rgs.txt")
      p99=$(field '^latency .* p99 \([0-9]*\) ns.*' "$d/rgs.txt")
      was=
    fi
    row "response-group events/s" "≥ 1,000,000" "$(range <<<"$new")" \
      "$(count_ge 1000000 <<<"$new")" "$was"
    row "response-group event p99 (ns)" "≤ 5,000" "$(range <<<"$p99")" \
      "$(count_le 5000 <<<"$p99")"
  fi
  if want lua; then
    pat='^resume->yield step, driver only (call:ask loop) *\([0-9]*\) ns.*'
    new=$(field "$pat" "$d"/lua_new_*.txt)
    was=$(if [ -n "$old" ]; then field "$pat" "$d"/lua_old_*.txt | range; fi)
    row "Lua call:ask step (ns)" "≤ 1,000" "$(range <<<"$new")" "$(count_le 1000 <<<"$new")" \
      "$was"
  fi
  if want cli; then
    new=$(field '^new: .*(\([0-9., ]*\);.*' "$d/cli.txt" | tr ',' '\n' | tr -d ' ')
    was=$(if [ -n "$old" ]; then field '^old: .*(\([0-9., ]*\);.*' "$d/cli.txt" |
      tr ',' '\n' | tr -d ' ' | range; fi)
    same=$(grep -c '^output: *identical bytes' "$d/cli.txt" || true)
    row "route --batch --json per decision (µs; outputs identical: $same)" "≤ 1.5" \
      "$(range <<<"$new")" "$(count_le 1.5 <<<"$new")" "$was"
  fi
  if want floor; then
    f=$(awk '$1 == "decision_p50_10k" {sub("x", "", $4); print $4}' "$d"/floor_*.txt)
    row "floor: decision p50 at 10,000 routes as a multiple of its floor" "-" \
      "$(range <<<"$f")" "-"
  fi
  if want directory; then
    zp='^reverse lookup, Zipf s=1, cached *p50 *\([0-9]*\) ns.*'
    up='^reverse number lookup (snapshot) *p50 *\([0-9]*\) ns.*'
    ip='^import: 2000000 users in \([0-9.]*\) s.*'
    dn=("$d"/directory_[0-9]*.txt)
    do=("$d"/directory_old_*.txt)
    z=$(field "$zp" "${dn[@]}")
    u=$(field "$up" "${dn[@]}")
    one=$(field '^floor: 1 read in anonymous memory *p50 *\([0-9]*\) ns.*' "${dn[@]}")
    imp=$(field "$ip" "${dn[@]}")
    # OLD's directory_bench, when it ran (after each of BUILD's, on the same vCPU)
    oz= ou= oi=
    if [ -e "${do[0]}" ]; then
      oz=$(field "$zp" "${do[@]}" | range)
      ou=$(field "$up" "${do[@]}" | range)
      oi=$(field "$ip" "${do[@]}" | range)
    fi
    row "reverse lookup p50, Zipf s=1 through the cache (ns)" "< 300" "$(range <<<"$z")" \
      "$(count_le 299 <<<"$z")" "$oz"
    row "reverse lookup p50, uniform over 2,000,000 users (ns)" "< 300" "$(range <<<"$u")" \
      "$(count_le 299 <<<"$u"); one random read: $(range <<<"$one") ns" "$ou"
    x=$(awk '{printf "%.0f\n", $1 * 5}' <<<"$imp")
    row "import of 2,000,000 users (s), × 5 for 10,000,000" "< 60 (× 5)" \
      "$(range <<<"$imp") → $(range <<<"$x")" "$(count_le 59.99 <<<"$x")" "$oi"
  fi
done
if want memory; then
  m=$(field '^  process RSS .*, \([0-9]*\) bytes per call$' "$out"/memory_*.txt)
  l=$(field '^  Lua state: .*, \([0-9]*\) bytes per waiting call$' "$out"/memory_*.txt)
  echo "| memory per call waiting in call:ask (B; Lua state $(range <<<"$l")) | ≤ 4,096 | any |" \
    "$(range <<<"$m") | $(count_le 4096 <<<"$m") | - |"
fi
echo
echo "outputs: $out"
