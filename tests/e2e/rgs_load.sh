#!/usr/bin/env bash
# Load test of response groups in Kamailio (ctest label `load`, not in the default e2e run:
# it takes about three minutes).
#
#   tests/e2e/rgs_load.sh [BUILD_DIR]          (default BUILD_DIR: build/)
#
# One hunt group (longest idle, alert time 20 s, queue timeout 10 s -> disconnect) served by
# RGS_AGENTS (300) agents that REGISTER from RGS_PHONES (6) sipp phones (one port each, many
# AORs per phone). Phone k answers after 1.0 + 0.4 k s (1.0 .. 3.0 s) and hangs up after
# 2 .. 5 s. Phase 1: RGS_RATE (50) calls/s for RGS_SECONDS (60) s. Phase 2: all but
# RGS_FEW (100) agents go offline (callroute.rgs.presence), and the same load again: calls
# queue and time out (480). Checks, per phase, from sipp's counters, the module's queue event
# log (rgs_log) and its engine timeline (rgs_events):
#   - no call lost: every caller's call ends (200 then the agent's BYE, or 480); every call
#     that entered the queue has exactly one end (connected, timeout, abandoned);
#   - none bridged twice (one `connected` per call);
#   - no agent offered a call while it rings for another one or is on a call (from its
#     `offered` to its decline / no answer / withdrawal, or to the end of its call);
#   - first in, first out: calls are first offered in the order they entered the queue.
# Prints the figures for the README: events/s handed to the match maker, hand-over p50/p99
# (callroute.rgs.handover), Kamailio's CPU (all its processes, % of one core) per phase.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

RGS_AGENTS=${RGS_AGENTS:-300}
RGS_FEW=${RGS_FEW:-100}
RGS_PHONES=${RGS_PHONES:-6}
RGS_RATE=${RGS_RATE:-50}
RGS_SECONDS=${RGS_SECONDS:-60}
E2E_TRACE=0

e2e_load_setup "${1:-}"
KPORT=$(e2e_ports 1)
XML=$E2E_TMP/rgs_load.xml
S=$E2E_DIR/scenarios

# The fixture: one workflow, one queue, one group of RGS_AGENTS agents ag001...
{
    echo '<?xml version="1.0" encoding="UTF-8"?>'
    echo '<callroute xmlns="urn:callroute:config:1">'
    echo '  <domains><domain>contoso.com</domain></domains>'
    echo '  <responseGroups>'
    echo '    <agentGroup name="Load" routingMethod="longestIdle" alertTime="20">'
    for i in $(seq 1 "$RGS_AGENTS"); do printf '      <agent>sip:ag%03d@contoso.com</agent>\n' "$i"; done
    echo '    </agentGroup>'
    echo '    <queue name="Load"><group>Load</group><timeout seconds="10" action="disconnect"/></queue>'
    echo '    <workflow name="Load" uri="sip:load@contoso.com" type="huntGroup" queue="Load"/>'
    echo '  </responseGroups>'
    echo '</callroute>'
} >"$XML"

e2e_start_kamailio "$KPORT" "$XML" -A "CR_RGS_LOG=\"$E2E_TMP/queue.log\"" \
    -A "CR_RGS_EVENTS=\"$E2E_TMP/events.txt\""

# The phones: phone k answers after 1000 + 400 k ms (k = 0..5) and holds 2000 .. 5000 ms.
: >"$E2E_TMP/agents.csv"
echo SEQUENTIAL >"$E2E_TMP/agents.csv"
holds=(2000 5000 3000 4000 2500 4500)
for k in $(seq 0 $((RGS_PHONES - 1))); do
    port=$(e2e_ports 1)
    sed -e "s/@ANSWER@/$((1000 + 2000 * k / (RGS_PHONES > 1 ? RGS_PHONES - 1 : 1)))/" \
        -e "s/@HOLD@/${holds[k % 6]}/" "$S/rgs_load_agent.xml" >"$E2E_TMP/agent$k.xml"
    e2e_gateway "phone$k" "$port" "$E2E_TMP/agent$k.xml" -max_recv_loops 10000 \
        -watchdog_minor_threshold 2000
    e2e_wait_ports "$port"
    for i in $(seq $((k + 1)) "$RGS_PHONES" "$RGS_AGENTS"); do
        printf 'ag%03d;%s;\n' "$i" "$port" >>"$E2E_TMP/agents.csv"
    done
done
e2e_load_register "$RGS_AGENTS"

# CPU ticks of every Kamailio process (the main one and its children).
kam_ticks() {
    local p t=0
    for p in $E2E_KAM_PID $(pgrep -P "$E2E_KAM_PID"); do
        [ -r "/proc/$p/stat" ] && t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat")))
    done
    echo "$t"
}
# sipp_stat PHASE COLUMN: the column of the last line of sipp's statistics file.
sipp_stat() {
    $E2E_PY -c "
import sys
rows = [l.rstrip('\\n').split(';') for l in open(sys.argv[1]) if l.strip()]
print(rows[-1][rows[0].index(sys.argv[2])])" "$E2E_TMP/$1.stat.csv" "$2"
}
handover() { e2e_kamcmd callroute.rgs.handover | sed -n "s/^[[:space:]]*$1: *//p"; }

# phase NAME: RGS_RATE calls/s for RGS_SECONDS s; waits for every call to end.
phase() {
    local name=$1 n=$((RGS_RATE * RGS_SECONDS)) t0 t1 c0 c1 h0 h1 secs created ok failed
    local port
    port=$(e2e_ports 1)
    h0=$(handover handed_over)
    c0=$(kam_ticks)
    t0=$(date +%s.%N)
    timeout $((RGS_SECONDS + 120)) "$SIPP" "127.0.0.1:$KAM_PORT" -sf "$S/rgs_load_caller.xml" \
        -s load -r "$RGS_RATE" -m "$n" -l 2000 -i 127.0.0.1 -p "$port" -t u1 -nostdin \
        -timeout $((RGS_SECONDS + 100))s -timeout_error -max_recv_loops 10000 \
        -watchdog_minor_threshold 2000 -trace_stat -stf "$E2E_TMP/$name.stat.csv" \
        -trace_err -error_file "$E2E_TMP/$name.err" >"$E2E_TMP/$name.out" 2>&1 </dev/null || true
    t1=$(date +%s.%N)
    c1=$(kam_ticks)
    h1=$(handover handed_over)
    secs=$($E2E_PY -c "print('%.1f' % ($t1 - $t0))")
    created=$(sipp_stat "$name" TotalCallCreated)
    ok=$(sipp_stat "$name" 'SuccessfulCall(C)')
    failed=$(sipp_stat "$name" 'FailedCall(C)')
    e2e_log "$name: $created calls in $secs s, $ok successful, $failed failed"
    [ "$created" = "$n" ] || e2e_fail "$name: $created calls placed, $n expected"
    [ "$ok" = "$n" ] && [ "$failed" = 0 ] || {
        tail -n 20 "$E2E_TMP/$name.err" >&2
        e2e_fail "$name: $failed calls failed (a call lost)"
    }
    $E2E_PY -c "
ticks = $c1 - $c0; hz = $(getconf CLK_TCK); secs = $t1 - $t0
ev = $h1 - $h0
print('e2e: FIGURES %s: %d calls at %d/s; match maker %.0f events/s (%d events); Kamailio CPU %.1f %% of one core' % ('$name', $n, $RGS_RATE, ev / secs, ev, 100.0 * ticks / hz / secs))
" >&2
}

phase full
for i in $(seq $((RGS_FEW + 1)) "$RGS_AGENTS"); do
    e2e_kamcmd callroute.rgs.presence "$(printf 'sip:ag%03d@contoso.com' "$i")" offline \
        >/dev/null || e2e_fail "presence offline"
done
sleep 1
phase few

e2e_log "FIGURES hand-over: p50 < $(handover p50_us_below) us, p99 < $(handover p99_us_below) us, max < $(handover max_us_below) us"
late=$(grep -a -c "connected by tm" "$E2E_TMP/kamailio.log" || true)
e2e_log "FIGURES answers that crossed the engine's end of the call (timeout) and were connected by tm: $late (their agents not rung until the BYE)"
$E2E_PY "$E2E_DIR/rgs_load_check.py" "$E2E_TMP/queue.log" "$E2E_TMP/events.txt" \
    $((2 * RGS_RATE * RGS_SECONDS)) \
    || e2e_fail "the queue event log shows a lost, doubly bridged or out-of-order call"
e2e_log "PASS rgs_load"
