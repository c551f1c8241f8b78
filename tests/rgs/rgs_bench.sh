#!/usr/bin/env bash
# `callroute bench --rgs` as a check (small deployments, nothing asserted on time): the typed
# form (default) and the text form (--text) feed the same events and see the same actions
# (equal digests, no rejected event); --baseline runs both libraries alternated and says
# whether their actions were identical; a --baseline that does not load is a usage error.
#   rgs_bench.sh CALLROUTE LIBCALLROUTE
set -euo pipefail
cli=$1 lib=$2
export CALLROUTE_QUIET=1
small=(--agents 300 --groups 40 --waiting 150 --events 20000 --warmup 60)
fail() { echo "rgs_bench: FAIL: $*" >&2; exit 1; }
field() { sed -n "s/.*\"$1\":\"\{0,1\}\([^,\"}]*\).*/\1/p" <<<"$2"; }

typed=$("$cli" --library "$lib" bench --rgs "${small[@]}" --json)
text=$("$cli" --library "$lib" bench --rgs "${small[@]}" --text --json)
[ "$(field errors "$typed")" = 0 ] || fail "typed: rejected events: $typed"
[ "$(field errors "$text")" = 0 ] || fail "text: rejected events: $text"
dt=$(field actions_digest "$typed") dx=$(field actions_digest "$text")
[ -n "$dt" ] && [ "$dt" = "$dx" ] || fail "digests differ: typed $dt, text $dx"
[ "$(field events "$typed")" = 20000 ] || fail "typed: not 20000 events measured"
[ "$(field calls_answered "$typed")" -gt 0 ] || fail "typed: no call answered"

cmp=$("$cli" --library "$lib" bench --rgs "${small[@]}" --baseline "$lib" --runs 2)
grep -q "^actions      identical in every run (digest $dt)" <<<"$cmp" || fail "baseline: $cmp"
grep -q "^ratio        events/s x" <<<"$cmp" || fail "baseline: no ratio line: $cmp"
json=$("$cli" --library "$lib" bench --rgs "${small[@]}" --baseline "$lib" --runs 1 --json)
[ "$(field same_actions "$json")" = true ] || fail "baseline json: $json"

set +e
err=$("$cli" --library "$lib" bench --rgs "${small[@]}" --baseline /nonexistent/lib.so 2>&1)
rc=$?
set -e
[ $rc = 2 ] || fail "bad --baseline: exit $rc"
grep -q -- "--baseline" <<<"$err" || fail "bad --baseline: message: $err"
echo "rgs_bench: typed = text (digest $dt), baseline comparison, errors"
echo "4 passed, 0 failed"
