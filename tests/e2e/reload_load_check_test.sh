#!/usr/bin/env bash
# The reload load test's checker (reload_load_check.py) accepts calls routed by a live plan,
# calls in flight across a reload included, and catches each fault: a call sent after the
# reload returned that reaches the old plan's gateway, one that reaches the new plan's
# gateway before the reload began, a call not answered, one at two gateways, an answered one
# at none, a refused reload. A call that failed after its answer (its BYE) is reported with
# sipp's reason but does not fail the test. It also reads the adoptions and the refusals.
set -euo pipefail
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
chk=$(dirname "$0")/reload_load_check.py
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3

# one reload to plan B: RPC sent at 10.0, published at 10.5, returned at 11.0 (generation 2)
reloads='1 B 10.0 11.0 0 2 10.5'
# calls: CALL-ID SENT ANSWERED GATEWAY RECEIVED
good='c1 5.000 5.002 A 5.001
c2 10.900 11.300 A 11.200
c3 10.900 10.960 B 10.950
c4 11.500 11.502 B 11.501
c5 10.950 10.990 A 10.980'
kam=' 1(101) INFO: callroute: pid 101 adopted generation 2 in 840 ms (at 10600)
 2(102) INFO: callroute: pid 102 adopted generation 2 in 850 ms (at 10650)
 0(100) INFO: callroute: pid 100 adopted generation 2 in 800 ms (at 10700)
 9(109) INFO: callroute: reloaded /x/live.plan (generation 2)'
refusals=' 3(103) INFO: {1 1 INVITE c8} <script>: callroute: sip:u1@example.com dialed 5551234: blocked +14255551234 (every gateway of the routes matching +14255551234 is down)
 3(103) INFO: callroute: gateway gw12#a failed (408): marked down for 30 s (no answer)'
psx='{
	IDX: 0
	PID: 100
	DSC: main process - attendant
}
{
	IDX: 1
	PID: 101
	DSC: udp receiver child=0 sock=127.0.0.1:5060
}
{
	IDX: 2
	PID: 102
	DSC: udp receiver child=1 sock=127.0.0.1:5060
}'
printf '%s\n' "$kam" >"$dir/kam"
printf '%s\n' "$psx" >"$dir/psx"
: >"$dir/sipperr"

# check RC NAME CALLS [KEY] [RELOADS] [SIPP_FAILED]: the checker's exit status on these
# calls is RC and, when KEY is given, the summary's KEY is not 0 (what failed is that)
check() {
    local want=$1 name=$2 calls=$3 key=${4:-} rl=${5:-$reloads} failed=${6:-0} rc=0
    : >"$dir/uac"
    : >"$dir/gwA"
    : >"$dir/gwB"
    while read -r cid s a gw r; do
        [ -n "$cid" ] || continue
        echo "S $cid ${s%.*} ${s#*.}000" >>"$dir/uac"
        [ "$a" = - ] || echo "A $cid ${a%.*} ${a#*.}000" >>"$dir/uac"
        for g in ${gw//,/ }; do
            [ "$g" = - ] || echo "$cid ${r%.*} ${r#*.}000" >>"$dir/gw$g"
        done
    done <<<"$calls"
    printf '%s\n' "$rl" >"$dir/reloads"
    printf '  Successful call        |        0                  |       %d\n  Failed call            |        0                  |       %d\n' \
        "$(grep -c '^A ' "$dir/uac" || true)" "$failed" >"$dir/sipp"
    $PY "$chk" --uac "$dir/uac" --gw "A=$dir/gwA" --gw "B=$dir/gwB" --reloads "$dir/reloads" \
        --kamailio "$dir/kam" --psx "$dir/psx" --sipp "$dir/sipp" --sipp-errors "$dir/sipperr" --children 2 \
        >"$dir/out" 2>"$dir/err" || rc=$?
    if [ "$rc" != "$want" ]; then
        cat "$dir/out" "$dir/err"
        echo "FAIL: $name (exit $rc, expected $want)"
        exit 1
    fi
    if [ -n "$key" ] && ! tail -n 1 "$dir/out" | grep -q "\"$key\": [1-9]"; then
        cat "$dir/out"
        echo "FAIL: $name (not counted in $key)"
        exit 1
    fi
    echo "ok: $name"
}

check 0 "calls routed by a live plan, in flight across the reload too" "$good"
# the summary: counts, the adoptions of the SIP workers after publication, the others apart
tail -n 1 "$dir/out" | $PY -c '
import json, sys
d = json.load(sys.stdin)
r = d["reloads"][0]
assert d["calls"] == 5 and d["answered"] == 5 and d["misrouted"] == 0, d
assert d["per_gateway"] == {"A": 3, "B": 2}, d["per_gateway"]
assert r["generation"] == 2 and r["adopted"] == 2 and r["rpc_ms"] == 1000.0, r
assert r["library_ms"] is None, r  # a log line without the time
assert r["per_worker_ms"] == {"101": 100.0, "102": 150.0}, r["per_worker_ms"]
assert r["other_processes_ms"] == {"100": 200.0}, r
assert r["adoption_work_ms"] == {"min": 840, "max": 850} and not r["all_within_100ms"], r
assert r["during_reload"] == {"old": 2, "new": 1}, r["during_reload"]
assert abs(r["answer_max_ms"] - 400.0) < 0.01 and abs(d["answer_ms"]["max_away_from_reloads"] - 2.0) < 0.01, d
assert d["reloads_every_worker_within_100ms"] == 0 and d["result"] == "PASS", d
' || { echo "FAIL: the summary"; cat "$dir/out"; exit 1; }
echo "ok: the summary"
# a SIP worker that had not opened the plan when the new one was published (it opens at its
# first call) is not waited for; one that had opened and did not adopt is
opened_late=' 1(101) INFO: callroute: pid 101 opened generation 1 (at 5000)
 2(102) INFO: callroute: pid 102 opened generation 2 (at 10800)
 1(101) INFO: callroute: pid 101 adopted generation 2 in 40 ms (at 10550), the plan before freed in 3 ms
 9(109) INFO: callroute: reloaded /x/live.plan (generation 2) in 96.5 ms: published and adopted here after 90.2 ms, installed here (the plan before freed) in 6.0 ms'
for case in late early; do
    if [ $case = late ]; then
        printf '%s\n' "$opened_late" >"$dir/kam"
    else
        printf '%s\n' "${opened_late/(at 10800)/(at 9000)}" >"$dir/kam"
    fi
    check 0 "worker 102 opened $case" "$good"
    tail -n 1 "$dir/out" | $PY -c '
import json, sys
r = json.load(sys.stdin)["reloads"][0]
late = sys.argv[1] == "late"
assert r["per_worker_ms"] == {"101": 50.0}, r
assert r["held_no_plan"] == ([102] if late else []), r
assert r["all_within_100ms"] == late, r
assert r["library_ms"] == 96.5, r
' $case || { echo "FAIL: worker 102 opened $case"; cat "$dir/out"; exit 1; }
done
printf '%s\n' "$kam" >"$dir/kam"
echo "ok: a worker that had not opened the plan is not waited for"
check 1 "sent after the reload returned, at the old plan's gateway" "$good
c6 11.100 11.105 A 11.104" misrouted
check 1 "at the new plan's gateway before the reload began" "$good
c7 9.000 9.002 B 9.001" misrouted
check 1 "a call not answered" "$good
c8 12.000 - - -" failed
check 1 "a call at two gateways" "$good
c9 10.500 10.600 A,B 10.550" several_gateways
check 1 "an answered call at no gateway" "$good
c10 12.000 12.002 - -" no_gateway
check 0 "a call sipp counted failed after its answer: reported, not a failure" "$good" sipp_failed "$reloads" 1
check 1 "a refused reload" "c1 5.000 5.002 A 5.001" "" '1 B 10.0 11.0 1 - -'
# a refused reload keeps the plan: a call after it at the old gateway is routed right
check 1 "a refused reload, calls after it at plan A (still failing: the reload)" "c1 5.000 5.002 A 5.001
c2 12.000 12.002 A 12.001" "" '1 B 10.0 11.0 1 - -'
grep -q '"misrouted": 0' "$dir/out" || { echo "FAIL: a call after a refused reload counted mis-routed"; exit 1; }
echo "ok: no mis-routed call after a refused reload"
check 1 "no call at all" ""
# why sipp failed a call whose INVITE was answered (its BYE timed out in Kamailio)
printf '%s\n' "The following events occurred:" \
    "Overload warning: the minor watchdog timer 500ms has been tripped (544), 119 trips remaining.2026-12-04	17:57:56.590367	1796407076.590367: Aborting call on unexpected message for Call-Id 'c4': while expecting '100' (index 8), received 'SIP/2.0 408 Request Timeout" \
    "Call-ID: c4" "CSeq: 2 BYE" "Content-Length: 0" "" >"$dir/sipperr"
check 0 "a call failed after its answer, with sipp's reason" "$good" failed_after_answer "$reloads" 1
grep -q '"sipp_errors": {"Aborting call on unexpected message: BYE got SIP/2.0 408 Request Timeout": 1}' "$dir/out" \
    || { cat "$dir/out"; echo "FAIL: the reason of a failed call"; exit 1; }
echo "ok: the reason of a failed call"
# the calls Kamailio refused and the gateways it marked down, by reason
printf '%s\n' "$kam" "$refusals" >"$dir/kam"
: >"$dir/sipperr"
check 1 "a call refused by Kamailio" "$good
c8 12.000 - - -" unanswered
grep -q '"kamailio_refused": {"blocked: every gateway of the routes matching +99999999999 is down": 1, "gateway marked down after 999": 1}' "$dir/out" \
    || { cat "$dir/out"; echo "FAIL: the calls Kamailio refused"; exit 1; }
echo "ok: the calls Kamailio refused, by reason"
