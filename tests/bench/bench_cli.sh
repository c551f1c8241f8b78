#!/usr/bin/env bash
# Contract of `callroute bench` (README "Benchmarks", reload_check.sh): flags, JSON fields in
# their order, text lines, saved plans, temporary files, errors. Small plans, short phases.
#   bench_cli.sh CALLROUTE_BINARY CASE
set -u
cr=$1 case=$2
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
export CALLROUTE_QUIET=1 TMPDIR=$tmp/t
mkdir -p "$TMPDIR"
pass=0 fail=0
ok() { pass=$((pass+1)); }
bad() { fail=$((fail+1)); echo "FAIL: $*"; }
# expect STATUS CMD... : runs CMD, checks its exit status; stdout in $out, stderr in $err
expect() {
  local want=$1; shift
  "$@" >"$tmp/out" 2>"$tmp/err"; local got=$?
  out=$(cat "$tmp/out"); err=$(cat "$tmp/err")
  if [ "$got" = "$want" ]; then ok; else bad "exit $got (want $want): $*"; echo "$err" | head -5; fi
}
has() { # has TEXT WHERE-LABEL HAYSTACK
  case "$3" in *"$1"*) ok ;; *) bad "$2 lacks: $1"; printf '%s\n' "$3" | head -5 ;; esac
}
json() { # json EXPR: a Python expression over j = json.loads(out)
  if python3 -c "import json,sys; j=json.loads(sys.stdin.read()); sys.exit(0 if ($1) else 1)" <<<"$out"; then ok
  else bad "json: $1"; echo "$out" | head -3; fi
}
small=(--generate routes=60,rules=12,users=300 --seconds 0.2)
fields='["config", "routes", "rules", "users", "numbers", "load_ms", "load_cpu_ms",
  "decisions_per_sec", "p50_ns", "p99_ns", "naive_p50_ns", "naive_p99_ns", "speedup",
  "decisions", "naive_decisions", "verified", "mismatches", "outbound", "internal", "blocked",
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
*) echo "unknown case $case"; exit 2 ;;
esac
echo "$case: $pass passed, $fail failed"
[ "$fail" = 0 ]
