#!/usr/bin/env bash
# Load test of the Kamailio module (not a ctest case: it runs for about a minute).
#
#   tests/e2e/load.sh [BUILD_DIR]        (default BUILD_DIR: build/, as scripts/setup.sh makes)
#
# 1. Sustained: LOAD_CALLS (10,000) calls at LOAD_RATE (1,000) calls/s through
#    examples/kamailio/kamailio.cfg with callroute deciding each call (sipp phone ->
#    Kamailio -> sipp gateway, INVITE/200/ACK/BYE/200, stateful, record-routed). Any failed
#    call fails the test.
# 2. Ceiling, side by side in the same run: CEIL_CALLS (6,000) calls as fast as they
#    complete (at most CEIL_LIMIT, 40, open at once: more only adds UDP drops and 500 ms
#    retransmissions on loopback) through (a) the same config with the module and (b) the
#    same config with CR_BASELINE defined, where the script sends every call to the same
#    gateway without the module. CEIL_ROUNDS (3) rounds alternate (a) and (b); the best
#    round of each is its ceiling. Prints both calls/s and their ratio, once with Kamailio's
#    default memory manager (q_malloc) and once with TLSF (CEIL_MEMMGRS="qm tlsf").
# Everything runs on 127.0.0.1 on random ports; the numbers include sipp's own cost on the
# same cores, so they are a floor for Kamailio's capacity, and the ratio is what matters.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

LOAD_CALLS=${LOAD_CALLS:-10000}
LOAD_RATE=${LOAD_RATE:-1000}
CEIL_CALLS=${CEIL_CALLS:-6000}
CEIL_LIMIT=${CEIL_LIMIT:-40}
CEIL_ROUNDS=${CEIL_ROUNDS:-3}
CEIL_MEMMGRS=${CEIL_MEMMGRS:-qm tlsf}

e2e_load_setup "${1:-}"
read -r PORT_A PORT_B PORT_C <<<"$(e2e_ports 3)"
XML=$E2E_TMP/routes.xml
e2e_fixture "$E2E_DIR/fixtures/e2e.xml" "$XML"

# The gateway (GW-A's address: local calls 5550123 route there), shared by both setups.
E2E_TRACE=0 e2e_gateway gwA "$PORT_A" gw_load.xml -max_recv_loops 10000
e2e_wait_ports "$PORT_A"

# run_uac LABEL CALLS RATE LIMIT: runs the phone side, prints "successful failed seconds".
run_uac() {
    local label=$1 calls=$2 rate=$3 limit=$4 port out t0 t1 ok failed
    port=$(e2e_ports 1)
    out=$E2E_TMP/uac-$label.out
    t0=$(date +%s.%N)
    timeout 600 "$SIPP" "127.0.0.1:$KAM_PORT" -sf "$E2E_DIR/scenarios/uac.xml" -s 5550123 \
        -key caller alice -key domain contoso.com -m "$calls" -r "$rate" -l "$limit" \
        -i 127.0.0.1 -p "$port" -t u1 -nostdin -max_recv_loops 10000 -timeout 300s -trace_err \
        -error_file "$E2E_TMP/uac-$label.err" >"$out" 2>&1 </dev/null || true
    t1=$(date +%s.%N)
    ok=$(awk -F'|' '/Successful call/ {gsub(/ /,"",$3); print $3}' "$out" | tail -n 1)
    failed=$(awk -F'|' '/Failed call/ {gsub(/ /,"",$3); print $3}' "$out" | tail -n 1)
    echo "${ok:-0} ${failed:-0} $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", b - a}')"
}

cps() { awk -v n="$1" -v s="$2" 'BEGIN {printf "%d", (s > 0 ? n / s : 0)}'; }

echo "load: Kamailio $("$KAMAILIO" -v | head -n 1 | awk '{print $3}') with $E2E_CHILDREN workers, sipp $("$SIPP" -v 2>&1 | grep -o 'v[0-9.]*' | head -n 1), $(nproc) CPU(s)"

# 1: sustained rate with the module.
read -r KPORT <<<"$(e2e_ports 1)"
e2e_start_kamailio "$KPORT" "$XML"
read -r ok failed secs <<<"$(run_uac sustained "$LOAD_CALLS" "$LOAD_RATE" $((LOAD_RATE * 3)))"
sustained_cps=$(cps "$ok" "$secs")
echo "load: sustained: $ok/$LOAD_CALLS calls answered, $failed failed, at $LOAD_RATE calls/s offered ($sustained_cps calls/s achieved over ${secs%%.*} s)"
result=0
if [ "$ok" != "$LOAD_CALLS" ] || [ "$failed" != 0 ]; then
    echo "load: FAIL: not every call was answered" >&2
    result=1
fi
e2e_stop_kamailio

# 2: ceilings, alternating setups round by round so that both see the same machine load
# (the cores are shared with sipp and whatever else runs); the best round of each counts.
# Once per Kamailio memory manager in CEIL_MEMMGRS: Debian's default q_malloc ("qm")
# dominates the profile of both setups under load (a free-list walk on every allocation),
# TLSF ("tlsf", kamailio -x tlsf) does not, which shows the module's own cost.
ceiling() { # ceiling LABEL [kamailio args...] -> "answered failed calls/s"
    local label=$1 ok failed secs
    shift
    read -r KPORT <<<"$(e2e_ports 1)"
    e2e_start_kamailio "$KPORT" "$XML" "$@"
    read -r ok failed secs <<<"$(run_uac "ceiling-$label" "$CEIL_CALLS" 100000 "$CEIL_LIMIT")"
    e2e_stop_kamailio
    echo "$ok $failed $(cps "$ok" "$secs")"
}
for mm in $CEIL_MEMMGRS; do
    m_best=0 b_best=0 m_all="" b_all="" m_failed=0 b_failed=0
    for round in $(seq 1 "$CEIL_ROUNDS"); do
        read -r ok failed c <<<"$(E2E_MEMMGR=$mm ceiling "module-$mm-$round")"
        m_all="$m_all $c" m_failed=$((m_failed + failed))
        [ "$c" -gt "$m_best" ] && m_best=$c
        read -r ok failed c <<<"$(E2E_MEMMGR=$mm ceiling "baseline-$mm-$round" \
            -A "CR_BASELINE=\"sip:127.0.0.1:$PORT_A\"")"
        b_all="$b_all $c" b_failed=$((b_failed + failed))
        [ "$c" -gt "$b_best" ] && b_best=$c
    done
    ratio=$(awk -v m="$m_best" -v b="$b_best" 'BEGIN {printf "%.2f", (b > 0 ? m / b : 0)}')
    printf 'load: ceiling with kamailio -x %s, best of %d alternating rounds of %d calls (at most %d open):\n' \
        "$mm" "$CEIL_ROUNDS" "$CEIL_CALLS" "$CEIL_LIMIT"
    printf 'load:   %-30s %6s calls/s  (rounds:%s; %d failed calls)\n' \
        "with callroute" "$m_best" "$m_all" "$m_failed" \
        "without (plain script route)" "$b_best" "$b_all" "$b_failed"
    printf 'load:   ratio with/without: %s\n' "$ratio"
done
[ "$result" = 0 ] && echo "load: PASS"
exit "$result"
