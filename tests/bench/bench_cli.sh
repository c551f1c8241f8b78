#!/usr/bin/env bash
# Contract of `callroute bench` (README "Benchmarks", reload_check.sh): flags, JSON fields in
# their order, text lines, saved plans, temporary files, errors. Small plans, short phases.
#   bench_cli.sh CALLROUTE_BINARY CASE
# And `route --batch` side by side (issue 17): two builds on the same plan and numbers,
# outputs compared byte for byte, then the time per decision of each, runs alternated:
#   bench_cli.sh NEW_CALLROUTE batch OLD_CALLROUTE
# BATCH_GENERATE (routes=10000,rules=1000,users=100000), BATCH_REPEAT (10: the 20,000 numbers
# that many times per run), BATCH_RUNS (3). Each binary loads the libcallroute.so.1 beside it.
set -u
cr=$1 case=$2 old=${3:-}
source "$(dirname "$0")/../cli/check_lib.sh"
export CALLROUTE_QUIET=1 TMPDIR=$tmp/t
mkdir -p "$TMPDIR"
small=(--generate routes=60,rules=12,users=300 --seconds 0.2)
fields='["config", "routes", "rules", "users", "numbers", "load_ms", "load_cpu_ms",
  "decisions_per_sec", "p50_ns", "p99_ns", "naive_p50_ns", "naive_p99_ns", "speedup",
  "decisions", "naive_decisions", "verified", "mismatches", "outbound", "internal", "blocked",
  "timer_p50_ns",
  "routes_indexed", "routes_fallback", "rules_indexed", "rules_fallback", "index_bytes",
  "rss_before_load_bytes", "rss_bytes", "heap_bytes", "heap_free_bytes", "peak_rss_bytes"]'
reload_fields='["reload_threads", "baseline_decisions", "baseline_max_ns",
  "baseline_slow_over_1ms", "reloads", "reloads_failed", "reload_ms_avg", "reload_ms_max",
  "reload_decisions", "reload_failures", "reload_mixes", "reload_slow_over_1ms", "reload_p50_ns",
  "reload_p99_ns", "reload_max_ns", "rss_after_first_reload_bytes", "rss_after_last_reload_bytes",
  "rss_after_100_reloads_bytes", "rss_growth_bytes"]'

case $case in
fields)
  expect 0 "$cr" bench "${small[@]}" --json
  json "list(j) == $fields + ['rss_end_bytes']"
  json "j['config'] == 'generated' and j['routes'] == 60 and j['rules'] == 12 and j['users'] == 300"
  json "j['numbers'] == 20000 and j['mismatches'] == 0 and j['verified'] >= 100"
  json "j['p50_ns'] > 0 and j['decisions_per_sec'] > 0 and j['routes_indexed'] == 60"
  ;;
reload_fields)
  expect 0 "$cr" bench "${small[@]}" --reloads 3 --threads 1 --json
  json "list(j) == $fields + $reload_fields + ['rss_end_bytes']"
  json "j['reloads'] == 3 and j['reloads_failed'] == 0 and j['reload_threads'] == 1"
  json "j['reload_failures'] == 0 and j['reload_mixes'] == 0"
  ;;
text)
  expect 0 "$cr" bench "${small[@]}" --reload-ms 50 --threads 2
  for l in "configuration   generated: 60 routes, 12 rules, 300 users" "load            " \
           "index           60 routes indexed" "numbers         20000 (" "decisions       " \
           "naive scan      p50 " "reloads         " "under reload    " "on 2 threads" \
           "without reloads " "0 failed, 0 mixed two configurations" "memory          "; do
    has "$l" "text" "$out"
  done
  ;;
save)
  # the saved plan and its numbers are kept, load on their own and replay the same calls
  expect 0 "$cr" bench --generate routes=30000,rules=10,users=60000 --seconds 0.1 \
    --save "$tmp/plan.xml" --json
  for f in plan.xml plan.xml.numbers plan.xml.r0.xml plan.xml.r1.xml plan.xml.u0.xml \
           plan.xml.u1.xml; do
    [ -s "$tmp/$f" ] && ok || bad "--save did not write $f"
  done
  json "j['config'] == '$tmp/plan.xml' and j['routes'] == 30000 and j['users'] == 60000"
  expect 0 "$cr" check --config "$tmp/plan.xml"
  expect 0 "$cr" bench --config "$tmp/plan.xml" --numbers "$tmp/plan.xml.numbers" \
    --seconds 0.1 --json
  json "j['numbers'] == 20000 and j['mismatches'] == 0 and j['routes'] == 30000"
  ;;
temp_files)
  # generated plans (and the reload twin) live in TMPDIR only while the bench runs
  expect 0 "$cr" bench "${small[@]}" --reloads 2 --json
  left=$(ls -A "$TMPDIR")
  [ -z "$left" ] && ok || bad "left in TMPDIR: $left"
  ;;
errors)
  expect 2 "$cr" bench --generate routes=x
  has "routes=x" "stderr" "$err"
  expect 2 "$cr" bench --generate routes=20,lines=3
  has "unknown key 'lines'" "stderr" "$err"
  expect 2 "$cr" bench --generate routes=20 --seconds abc
  has "seconds=abc" "stderr" "$err"
  expect 2 "$cr" bench --generate routes=20 --threads 2x
  has "threads=2x" "stderr" "$err"
  expect 2 "$cr" bench --generate routes=20 --threads 0
  has "out of range" "stderr" "$err"
  expect 2 "$cr" bench --config "$tmp/missing.xml"
  has "$tmp/missing.xml" "stderr" "$err"
  expect 2 "$cr" bench --generate routes=20 --numbers "$tmp/missing.numbers"
  has "$tmp/missing.numbers: cannot read" "stderr" "$err"
  expect 2 "$cr" bench
  has "usage: callroute bench" "stderr" "$err"
  expect 2 "$cr" bench --config a.xml --generate routes=1
  has "usage: callroute bench" "stderr" "$err"
  [ -z "$(ls -A "$TMPDIR")" ] && ok || bad "left in TMPDIR: $(ls -A "$TMPDIR")"
  ;;
baseline)
  # --baseline: an older bench library and this one on one plan, alternated, with ratios
  lib=$(dirname "$cr")/libcallroute-bench.so
  expect 0 "$cr" bench "${small[@]}" --baseline "$lib" --runs 2 --json
  json "list(j) == ['baseline', 'runs', 'before_p50_ns', 'after_p50_ns', 'before_p99_ns',
    'after_p99_ns', 'p50_ratio', 'p99_ratio', 'mismatches']"
  json "j['runs'] == 2 and j['mismatches'] == 0 and j['baseline'] == '$lib'"
  json "0 < j['before_p50_ns'][0] <= j['before_p50_ns'][1] and 0 < j['after_p50_ns'][0]"
  json "0 < j['p50_ratio'][0] <= j['p50_ratio'][1] and 0 < j['p99_ratio'][0]"
  expect 0 "$cr" bench "${small[@]}" --baseline "$lib" --runs 1
  has "before/after, 1 run each, alternated (before = $lib):" "stdout" "$out"
  has "  run 1  before p50 " "stdout" "$out"
  has "ratio        p50 x" "stdout" "$out"
  has "index        = naive scan in every run" "stdout" "$out"
  has "run 1 of 1: before p50 " "stderr" "$err"
  expect 0 "$cr" bench "${small[@]}" --baseline "$lib" --runs 1 --save "$tmp/ab.xml"
  [ -s "$tmp/ab.xml" ] && [ -s "$tmp/ab.xml.numbers" ] && ok || bad "--save with --baseline: no plan"
  expect 2 "$cr" bench "${small[@]}" --baseline "$tmp/none.so"
  has "--baseline $tmp/none.so" "stderr" "$err"
  expect 2 "$cr" bench "${small[@]}" --baseline "$(dirname "$cr")/libcallroute.so.1"
  has "not a libcallroute-bench.so" "stderr" "$err"
  expect 2 "$cr" bench "${small[@]}" --runs 2
  has "--runs goes with --baseline" "stderr" "$err"
  expect 2 "$cr" bench "${small[@]}" --baseline "$lib" --runs 0
  has "--runs: 1 to 100" "stderr" "$err"
  expect 2 "$cr" bench "${small[@]}" --baseline "$lib" --reloads 2
  has "--baseline compares decisions, not reloads" "stderr" "$err"
  [ -z "$(ls -A "$TMPDIR")" ] && ok || bad "left in TMPDIR: $(ls -A "$TMPDIR")"
  ;;
batch)
  # Time per decision = (CPU time of a batch - CPU time of the same command on an empty
  # batch) / lines: the load (a compiled plan image, each binary its own) is left out.
  [ -n "$old" ] || { echo "usage: bench_cli.sh NEW_CALLROUTE batch OLD_CALLROUTE"; exit 2; }
  gen=${BATCH_GENERATE:-routes=10000,rules=1000,users=100000}
  unset CALLROUTE_LIBRARY
  expect 0 "$cr" bench --generate "$gen" --seconds 0.05 --save "$tmp/plan.xml" --json
  cut -d' ' -f2 "$tmp/plan.xml.numbers" > "$tmp/numbers"
  from=$(head -1 "$tmp/plan.xml.numbers" | cut -d' ' -f1)
  for b in old new; do
    bin=$([ $b = old ] && echo "$old" || echo "$cr")
    "$bin" compile --config "$tmp/plan.xml" -o "$tmp/$b.img" >/dev/null 2>&1 \
      || cp "$tmp/plan.xml" "$tmp/$b.img" # a build without images: the XML (slower load)
    for mode in "" --spread; do
      "$bin" route --config "$tmp/$b.img" --from "$from" --batch "$tmp/numbers" $mode \
        > "$tmp/$b$mode.out" 2> "$tmp/$b$mode.err"
      echo "exit status $?" >> "$tmp/$b$mode.err"
    done
  done
  for mode in "" --spread; do
    if cmp -s "$tmp/old$mode.out" "$tmp/new$mode.out" && cmp -s "$tmp/old$mode.err" "$tmp/new$mode.err"
    then ok; else bad "route --batch $mode: the two builds print different bytes"
      diff "$tmp/old$mode.out" "$tmp/new$mode.out" | head -4; fi
  done
  lines=$(wc -l < "$tmp/numbers")
  echo "plan:      $gen; $lines numbers x ${BATCH_REPEAT:-10} per run, from $from"
  echo "output:    identical bytes ($(wc -c < "$tmp/new.out") for the $lines numbers; --spread too)"
  : > "$tmp/empty"
  for i in $(seq "${BATCH_REPEAT:-10}"); do cat "$tmp/numbers"; done > "$tmp/batch"
  python3 - "$old" "$cr" "$tmp" "$from" "${BATCH_RUNS:-3}" <<'PY' > "$tmp/report" && ok || bad "timing"
import os, subprocess, sys
old, new, tmp, frm, runs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
lines = sum(1 for _ in open(f"{tmp}/batch"))
def cpu(binary, img, batch):
    pid = os.fork()
    if pid == 0:
        fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(fd, 1)
        os.execv(binary, [binary, "route", "--config", img, "--from", frm, "--batch", batch])
    _, status, ru = os.wait4(pid, 0)
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        sys.exit(f"{binary} failed")
    return ru.ru_utime + ru.ru_stime
per = {"old": [], "new": []}
for r in range(runs):  # alternated: old, new, old, new, ...
    for name, binary in (("old", old), ("new", new)):
        img = f"{tmp}/{name}.img"
        empty = cpu(binary, img, f"{tmp}/empty")
        full = cpu(binary, img, f"{tmp}/batch")
        per[name].append(max(full - empty, 0) / lines * 1e6)
for name in ("old", "new"):
    v = per[name]
    print(f"{name}:       {min(v):.2f}-{max(v):.2f} us per decision "
          f"({', '.join(f'{x:.2f}' for x in v)}; {lines} lines a run)")
ratios = [o / n for o, n in zip(per["old"], per["new"]) if n > 0]
if ratios:
    print(f"ratio:     old/new {min(ratios):.1f}-{max(ratios):.1f} (run by run)")
PY
  cat "$tmp/report"
  ;;
*) echo "unknown case $case"; exit 2 ;;
esac
check_done "$case"
