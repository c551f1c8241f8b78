#!/usr/bin/env bash
# Load test of response-group media through rtpengine (issue 13; ctest load_media, label
# `load` only: about 100 s, not in CI).
#
#   tests/e2e/media_load.sh [BUILD_DIR]          (default BUILD_DIR: build/; needs root and
#                                                 rtpengine, as tests/e2e/media.sh)
#
# MEDIA_LOAD_CALLERS (200) callers from one sipp (-l CALLERS, -r MEDIA_LOAD_RATE 50/s) call a
# hunt group whose workflow plays a 2 s welcome prompt, then music on hold (a 3 s WAV looped)
# from the module's own rtpengine (userspace, loopback). Its CALLERS agents (one sipp phone,
# one AOR each) are registered but offline (callroute.rgs.presence), so every caller waits
# on music on hold; MEDIA_LOAD_HOLD (60) s after the last caller's session exists, the agents
# become available, each call is offered to one agent (longest idle), answered after 2 s,
# bridged (RTP both ways) and hung up by the caller 4 s later. Checks:
#   - calls offered (sipp), answered (200), dropped (failed) = 0, every queued call connected;
#   - RTP at each caller during the hold (a raw socket on lo, per rtpengine source port):
#     CALLERS streams, each within 85 .. 110 % of 50 packets/s x the hold;
#   - no rtpengine session at the end (ng `list`);
#   - CPU (% of one core, peak of 1 s samples and average) and peak RSS/PSS of rtpengine, of
#     all Kamailio processes, and of the sipp callers, agents and sniffer (from /proc each
#     second), over the whole run and during the hold alone, printed as a FIGURES line.
# The agents become available one RPC at a time (kamcmd), so the last callers wait longer
# than MEDIA_LOAD_HOLD (about 13-15 s more on a loaded 2-core machine).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

N=${MEDIA_LOAD_CALLERS:-200}
RATE=${MEDIA_LOAD_RATE:-50}
HOLD=${MEDIA_LOAD_HOLD:-60}
E2E_TRACE=0

e2e_load_setup "${1:-}" rtpengine root
KPORT=$(e2e_ports 1)
read -r CMP AMP <<<"$(e2e_media_ports 2)"
read -r NG DTMF <<<"$(e2e_media_ports1 2)"
TOOL="$E2E_PY $E2E_DIR/media_tool.py"
LTOOL="$E2E_PY $E2E_DIR/media_load_tool.py"
S=$E2E_DIR/scenarios
MEDIA=$E2E_TMP/media
mkdir -p "$MEDIA"
$TOOL wav "$MEDIA/welcome.wav" 2 440
$TOOL wav "$MEDIA/moh.wav" 3 300
XML=$E2E_TMP/media_load.xml
{
    echo '<?xml version="1.0" encoding="UTF-8"?>'
    echo '<callroute xmlns="urn:callroute:config:1">'
    echo '  <domains><domain>contoso.com</domain></domains>'
    echo '  <responseGroups>'
    echo '    <agentGroup name="Load" routingMethod="longestIdle" alertTime="20">'
    for i in $(seq 1 "$N"); do printf '      <agent>sip:ml%03d@contoso.com</agent>\n' "$i"; done
    echo '    </agentGroup>'
    echo '    <queue name="Load"><group>Load</group><timeout seconds="300" action="disconnect"/></queue>'
    echo '    <workflow name="Load" uri="sip:mload@contoso.com" type="huntGroup" queue="Load"'
    echo '              welcome="welcome.wav" musicOnHold="moh.wav"/>'
    echo '  </responseGroups>'
    echo '</callroute>'
} >"$XML"

# rtpengine: two ports (RTP, RTCP) per leg, two legs per call, in a reserved window; the
# callers are silent during the wait, so its timeout (no RTP received) is above the hold
base=$(e2e_reserve_ports 1 $(((N * 4 + 99) / 100 * 100 + 100)) 10000 20000) \
    || e2e_fail "no free window for rtpengine's RTP ports"
rtpengine --config-file=none --table=-1 --interface=127.0.0.1 \
    --listen-ng=127.0.0.1:$NG --port-min=$base --port-max=$((base + N * 4 + 99)) \
    --dtmf-log-dest=127.0.0.1:$DTMF --delete-delay=0 --timeout=$((HOLD + 240)) --num-threads=2 \
    --foreground --log-stderr --log-level=5 --pidfile="$E2E_TMP/rtpengine.pid" \
    >"$E2E_TMP/rtpengine.log" 2>&1 </dev/null &
RTP_PID=$!
E2E_PIDS+=("$RTP_PID")
for _ in $(seq 1 100); do
    kill -0 "$RTP_PID" 2>/dev/null || e2e_fail "rtpengine exited: $(tail -n 3 "$E2E_TMP/rtpengine.log")"
    [ "$($TOOL ng 127.0.0.1:$NG ping 2>/dev/null)" = pong ] && break
    sleep 0.1
done
ss -H -lunp "sport = :$NG" | grep -q "pid=$RTP_PID," || e2e_fail "rtpengine does not answer on $NG"

e2e_start_kamailio "$KPORT" "$XML" -A "CR_RGS_LOG=\"$E2E_TMP/queue.log\"" \
    -A "CR_RTPENGINE_SOCK=\"udp:127.0.0.1:$NG\"" -A "CR_RTPENGINE_DTMF=\"127.0.0.1:$DTMF\"" \
    -A "CR_MEDIA_DIR=\"$MEDIA\""

# The agents: one sipp phone (media_agent.xml: rings 2 s, answers with SDP, RTP after the
# ACK, waits for the BYE) for all AORs; registered, then offline.
APORT=$(e2e_ports 1)
e2e_gateway agents "$APORT" media_agent.xml -mi 127.0.0.1 -mp "$AMP" -max_recv_loops 10000
AGENTS_PID=$E2E_GW_PID_agents
e2e_wait_ports "$APORT"
echo SEQUENTIAL >"$E2E_TMP/agents.csv"
for i in $(seq 1 "$N"); do printf 'ml%03d;%s;\n' "$i" "$APORT" >>"$E2E_TMP/agents.csv"; done
e2e_load_register "$N"
presence_all() {
    local i
    for i in $(seq 1 "$N"); do
        e2e_kamcmd callroute.rgs.presence "$(printf 'sip:ml%03d@contoso.com' "$i")" "$1" \
            >/dev/null || e2e_fail "callroute.rgs.presence $1"
    done
}
presence_all offline

# Samplers: RTP at the callers' media port; CPU and memory each second.
$LTOOL sniff "$E2E_TMP/rtp.txt" "$CMP" &
SNIFF_PID=$!
E2E_PIDS+=("$SNIFF_PID")
sleep 0.5
kam_pids=$(echo "$E2E_KAM_PID" $(pgrep -P "$E2E_KAM_PID") | tr ' ' ',')

sessions() { $TOOL ng 127.0.0.1:$NG list | grep -c . || true; }
sipp_stat() {
    $E2E_PY -c "
import sys
rows = [l.rstrip('\\n').split(';') for l in open(sys.argv[1]) if l.strip()]
print(rows[-1][rows[0].index(sys.argv[2])])" "$E2E_TMP/callers.stat.csv" "$1"
}

t_start=$(date +%s.%N)
timeout $((HOLD + 300)) "$SIPP" "127.0.0.1:$KAM_PORT" -sf "$S/media_load_caller.xml" -s mload \
    -key caller alice -key domain contoso.com -m "$N" -l "$N" -r "$RATE" \
    -i 127.0.0.1 -p "$(e2e_ports 1)" -t u1 -mi 127.0.0.1 -mp "$CMP" -nostdin \
    -timeout $((HOLD + 280))s -timeout_error -max_recv_loops 10000 \
    -trace_stat -stf "$E2E_TMP/callers.stat.csv" -fd 1 \
    -trace_err -error_file "$E2E_TMP/callers.err" >"$E2E_TMP/callers.out" 2>&1 </dev/null &
CALLERS_PID=$!
E2E_PIDS+=("$CALLERS_PID")
sleep 0.2
sipp_pid=$(pgrep -P "$CALLERS_PID" | head -n 1) || e2e_fail "the callers' sipp did not start"
$LTOOL sample "$E2E_TMP/usage.txt" "rtpengine=$RTP_PID" "kamailio=$kam_pids" \
    "sipp_callers=$sipp_pid" "sipp_agents=$AGENTS_PID" "sniffer=$SNIFF_PID" &
SAMPLER_PID=$!
E2E_PIDS+=("$SAMPLER_PID")

# Every caller in the queue: one rtpengine session each (at most 60 s).
n=0
for _ in $(seq 1 600); do
    n=$(sessions)
    [ "$n" -ge "$N" ] && break
    kill -0 "$CALLERS_PID" 2>/dev/null || break
    sleep 0.1
done
t_all=$(date +%s.%N)
[ "$n" -ge "$N" ] || e2e_fail "$n of $N callers have an rtpengine session after 60 s"
e2e_log "$N callers waiting $($E2E_PY -c "print('%.1f' % ($t_all - $t_start))") s after the first INVITE"
# the hold: from the end of the last welcome prompt (2 s) for HOLD s
sleep 3
t_hold0=$(date +%s)
sleep "$HOLD"
t_hold1=$(date +%s)
n=$(sessions)
[ "$n" = "$N" ] || e2e_fail "$n rtpengine sessions after the hold, $N expected (a caller dropped)"
presence_all available
t_avail=$(date +%s.%N)
e2e_log "agents available $($E2E_PY -c "print('%.1f' % ($t_avail - $t_hold1))") s after the hold"

wait "$CALLERS_PID" && rc=0 || rc=$?
t_end=$(date +%s.%N)
left=
for _ in $(seq 1 100); do
    left=$(sessions)
    [ "$left" = 0 ] && break
    sleep 0.1
done
kill -TERM "$SAMPLER_PID" "$SNIFF_PID" 2>/dev/null || true
wait "$SAMPLER_PID" 2>/dev/null || true
wait "$SNIFF_PID" 2>/dev/null || true

offered=$(sipp_stat TotalCallCreated)
answered=$(sipp_stat 'SuccessfulCall(C)')
failed=$(sipp_stat 'FailedCall(C)')
connected=$(grep -a -c -w connected "$E2E_TMP/queue.log" || true)
read -r ports pmin pmed pmax <<<"$($LTOOL hold "$E2E_TMP/rtp.txt" "$t_hold0" "$t_hold1")"
secs=$((t_hold1 - t_hold0))
lo=$((secs * 50 * 85 / 100))
hi=$((secs * 50 * 110 / 100))
low=$($E2E_PY -c "
import collections, sys
per = collections.Counter()
for l in open(sys.argv[1]):
    s, p, n = (int(x) for x in l.split())
    if $t_hold0 <= s < $t_hold1: per[p] += n
print(sum(1 for v in per.values() if not $lo <= v <= $hi))" "$E2E_TMP/rtp.txt")
e2e_log "calls: $offered offered, $answered answered, $failed dropped; $connected connected" \
    "(queue log); sipp exit $rc"
e2e_log "hold ${secs} s: $ports callers received RTP, packets per caller min $pmin median" \
    "$pmed max $pmax (expected $((secs * 50)), within [$lo, $hi]; $low outside)"
e2e_log "rtpengine sessions at the end: $left"
declare -A U
while read -r name peak avg rss pss; do
    U[$name]="CPU peak $peak % avg $avg %, RSS $rss MB, PSS $pss MB"
    e2e_log "usage $name: CPU peak $peak % avg $avg % (of one core), peak RSS $rss MB, PSS $pss MB"
done < <($LTOOL usage "$E2E_TMP/usage.txt" "$t_start" "$t_end")
# the same during the hold alone (every caller on music on hold, nothing else happening)
declare -A H
while read -r name peak avg rss pss; do
    H[$name]="$avg"
    e2e_log "usage $name during the hold: CPU peak $peak % avg $avg % (of one core)"
done < <($LTOOL usage "$E2E_TMP/usage.txt" "$t_hold0" "$t_hold1")
e2e_log "FIGURES media load: $N callers at $RATE/s, ${secs} s music on hold, then bridged;" \
    "$offered offered, $answered answered, $failed dropped; RTP per caller on hold" \
    "$pmin..$pmax packets (~$((secs * 50))); $left rtpengine sessions left;" \
    "rtpengine ${U[rtpengine]:-?} (on hold avg ${H[rtpengine]:-?} %); Kamailio" \
    "${U[kamailio]:-?} (on hold avg ${H[kamailio]:-?} %); sipp callers" \
    "${U[sipp_callers]:-?}; load average $(cut -d' ' -f1-3 /proc/loadavg)"

fails=()
[ "$offered" = "$N" ] || fails+=("$offered calls offered, $N expected")
[ "$answered" = "$N" ] && [ "$failed" = 0 ] || fails+=("$failed calls dropped, $answered answered")
[ "$rc" = 0 ] || fails+=("sipp exited $rc")
[ "$connected" = "$N" ] || fails+=("$connected calls connected in the queue log, $N expected")
[ "$ports" = "$N" ] || fails+=("$ports callers received RTP during the hold, $N expected")
[ "$low" = 0 ] || fails+=("$low callers' RTP during the hold outside [$lo, $hi]")
[ "$left" = 0 ] || fails+=("$left rtpengine sessions left")
if [ "${#fails[@]}" -gt 0 ]; then
    tail -n 20 "$E2E_TMP/callers.err" >&2 2>/dev/null || true
    for f in "${fails[@]}"; do e2e_log "check failed: $f"; done
    e2e_fail "media load: ${#fails[@]} checks failed"
fi
e2e_log "PASS media_load"
