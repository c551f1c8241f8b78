#!/usr/bin/env bash
# Reload of a large plan while calls flow (issue 14; ctest label `load`, not run by CI).
#
#   tests/e2e/reload_load.sh [BUILD_DIR]          (default BUILD_DIR: build/)
#
# Generates a plan (callroute bench --generate routes=ROUTES,rules=RULES,users=USERS) as two
# twins that differ only in where their gateways are: every gateway of twin A is the sipp
# gateway A, every gateway of twin B the sipp gateway B, so the gateway a call reaches tells
# which plan decided it. FORMAT (plan) is what Kamailio reads: the twins' compiled images, or
# xml. Starts Kamailio (examples/kamailio/kamailio.cfg) with CHILDREN SIP workers on twin A,
# drives CPS calls/s from one sipp caller (scenarios/reload_uac.xml, NUMBERS numbers the
# plan routes outbound, from sip:CALLER) for the whole run: WARMUP s, then RELOADS times:
# swap the file to the other twin (rename), callroute.reload, GAP s. Then the caller stops
# (after CALLS calls when given, else once the last GAP is over) and its calls end.
#
# Fails (exit 1) on any failed call (its INVITE not answered 200 by a gateway: refused by
# Kamailio, timed out) and any mis-routed call: every call must reach the gateway of a plan
# that was live between its INVITE leaving the caller and reaching the gateway
# (reload_load_check.py); so once a reload's RPC has returned, no call sent after reaches the
# old plan's gateway. Calls sipp failed after their answer (a BYE answered 408 when the
# machine dropped a datagram: the BYE follows the Record-Route, callroute is not involved)
# are reported with sipp's reasons, Kamailio's refusals by reason and the kernel's UDP
# receive-buffer drops, and do not fail the test.
# Reports, per reload: the RPC's duration, the generation, when the image was published (its
# ctime in CALLROUTE_RUNTIME_DIR), per worker the time from publication to adoption (the
# library's "adopted generation G in X ms (at T)" line, logged at INFO: Kamailio runs with
# debug=2) and the adoption's own duration, and the slowest answer (INVITE to 200, from the
# caller's log) among calls sent from 1 s before the RPC to 1 s after it returned, against the
# slowest away from reloads. Ends with one JSON line ("reload_load: {...}").
set -euo pipefail
. "$(dirname "$0")/lib.sh"

ROUTES=${ROUTES:-400000}
RULES=${RULES:-60}
USERS=${USERS:-2000}
CHILDREN=${CHILDREN:-8}
CPS=${CPS:-500}
CALLS=${CALLS:-}
RELOADS=${RELOADS:-3}
FORMAT=${FORMAT:-plan}
WARMUP=${WARMUP:-5}
GAP=${GAP:-5}
NUMBERS=${NUMBERS:-1000}
CALLER=${CALLER:-u1@example.com}
case $FORMAT in plan | xml) ;; *) echo "reload_load: FORMAT is plan or xml" >&2; exit 2 ;; esac

build=$(cd "${1:-$E2E_TOP/build}" && pwd) || { echo "reload_load: no build directory ${1:-}" >&2; exit 2; }
CLI=${CR_CLI:-$build/plugin-api/callroute}
[ -x "$CLI" ] || { echo "reload_load: $CLI not built" >&2; exit 2; }
# INFO lines (the adoptions) are printed from debug=2 on; a load of 400,000 routes can take
# a while on a shared machine, and so can a reload's RPC
# shellcheck disable=SC2034 # (read by lib.sh)
E2E_CHILDREN=$CHILDREN E2E_DEBUG=${E2E_DEBUG:-2} E2E_START_WAIT=${E2E_START_WAIT:-300}
E2E_RPC_TIMEOUT=${E2E_RPC_TIMEOUT:-300}
e2e_load_setup "$build"
export CALLROUTE_RUNTIME_DIR=$E2E_TMP/run
mkdir -p "$CALLROUTE_RUNTIME_DIR"
read -r PORT_A PORT_B KPORT UPORT CPORT <<<"$(e2e_ports 5)"
T=$E2E_TMP
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

# The twins: the generated top file holds the gateways, the routes and users are included
# files both twins share (includes resolve against the top file's directory).
log() { echo "reload_load: $*"; }
log "$ROUTES routes, $RULES rules, $USERS users ($FORMAT), $CHILDREN SIP workers, $CPS calls/s, $RELOADS reloads; load average $load_start"
"$CLI" bench --generate "routes=$ROUTES,rules=$RULES,users=$USERS" --seconds 0.01 \
    --save "$T/plan.xml" >"$T/generate.out" 2>&1 || { cat "$T/generate.out" >&2; e2e_fail "generating the plan"; }
for t in A B; do
    port=PORT_$t
    sed -E "s#address=\"sip:[^\"]*\"#address=\"sip:127.0.0.1:${!port}\"#" "$T/plan.xml" >"$T/twin$t.xml"
    [ "$(grep -c "127.0.0.1:${!port}\"" "$T/twin$t.xml")" -gt 0 ] || e2e_fail "twin $t has no gateway"
    if [ "$FORMAT" = plan ]; then
        "$CLI" compile --config "$T/twin$t.xml" -o "$T/twin$t.plan" >"$T/compile$t.out" 2>&1 \
            || { cat "$T/compile$t.out" >&2; e2e_fail "compiling twin $t"; }
    fi
done
LIVE=$T/live.$FORMAT
cp "$T/twinA.$FORMAT" "$LIVE"

# The numbers: the generated calls' digits-only numbers that twin A routes outbound to
# gateway A (twin B routes the same ones to B: only the addresses differ).
awk -v n=$((NUMBERS * 3)) 'NF == 2 && $2 ~ /^\+?[0-9]+$/ && k++ < n {print $2}' "$T/plan.xml.numbers" >"$T/candidates.txt"
"$CLI" route --config "$LIVE" --from "sip:$CALLER" --batch "$T/candidates.txt" >"$T/candidates.json" 2>&1 || true
$E2E_PY - "$T/candidates.json" "$NUMBERS" "${CALLER%@*}" "127.0.0.1:$PORT_A" >"$T/numbers.csv" <<'EOF' \
    || e2e_fail "no outbound numbers to dial: $(head -c 300 "$T/candidates.json")"
import json, sys
path, want, caller, gw = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
rows = []
for line in open(path):
    try:
        d = json.loads(line)
    except ValueError:
        continue
    a = d.get("attempts") or []
    if d.get("decision") == "outbound" and a and gw in a[0]["uri"]:
        rows.append("%s;%s" % (caller, d["input"]))
    if len(rows) == want:
        break
if not rows:
    sys.exit(1)
print("SEQUENTIAL")
print("\n".join(rows))
EOF
log "$(($(wc -l <"$T/numbers.csv") - 1)) numbers dialed in turn"

E2E_TRACE=0 e2e_gateway gwA "$PORT_A" reload_gw.xml -trace_logs -log_file "$T/gwA.log" -max_recv_loops 10000
E2E_TRACE=0 e2e_gateway gwB "$PORT_B" reload_gw.xml -trace_logs -log_file "$T/gwB.log" -max_recv_loops 10000
e2e_wait_ports "$PORT_A" "$PORT_B"
t=$(date +%s.%N)
e2e_start_kamailio "$KPORT" "$LIVE"
log "Kamailio answers RPC after $(awk -v a="$t" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}') s"
# the RPC process opens its plan now, not inside the first reload; and twin A routes there
first=$(sed -n 2p "$T/numbers.csv" | cut -d';' -f2)
e2e_kamcmd callroute.route "sip:$CALLER" "s:$first" >"$T/route.out" || e2e_fail "callroute.route: $(cat "$T/route.out")"
grep -q "127.0.0.1:$PORT_A" "$T/route.out" || e2e_fail "callroute.route does not route to gateway A: $(cat "$T/route.out")"
e2e_kamcmd core.psx >"$T/psx.txt" || e2e_fail "core.psx: $(cat "$T/psx.txt")"

# datagrams the kernel dropped for a full receive buffer (every UDP socket of the machine)
rcvbuf_errors() { awk '/^Udp:/ { if (!h) { for (i = 2; i <= NF; i++) c[$i] = i; h = 1 } else print $c["RcvbufErrors"] }' /proc/net/snmp; }
drops_start=$(rcvbuf_errors)
(cd "$T" && exec "$SIPP" "127.0.0.1:$KPORT" -sf "$E2E_DIR/scenarios/reload_uac.xml" \
    -inf "$T/numbers.csv" -key domain example.com -r "$CPS" -l $((CPS * 3)) ${CALLS:+-m "$CALLS"} \
    -i 127.0.0.1 -p "$UPORT" -cp "$CPORT" -t u1 -nostdin -max_recv_loops 10000 -timeout 3600s \
    -trace_logs -log_file "$T/uac.log" -trace_err -error_file "$T/uac.err" \
    >"$T/uac.out" 2>&1 </dev/null) &
UAC=$!
E2E_PIDS+=("$UAC")

sleep "$WARMUP"
: >"$T/reloads.txt"
cur=A
for n in $(seq 1 "$RELOADS"); do
    kill -0 "$UAC" 2>/dev/null || { log "the caller stopped before reload $n (CALLS too small?)"; break; }
    next=$([ "$cur" = A ] && echo B || echo A)
    cp "$T/twin$next.$FORMAT" "$LIVE.tmp" && mv -f "$LIVE.tmp" "$LIVE"
    rc=0
    t0=$(date +%s.%N)
    e2e_kamcmd callroute.reload >"$T/reload$n.out" 2>&1 || rc=1
    t1=$(date +%s.%N)
    # the published image: callroute-<owner>-<generation>.plan, renamed into place (ctime)
    img=$(ls "$CALLROUTE_RUNTIME_DIR" | sed -n 's/^callroute-[0-9]*-\([0-9]*\)\.plan$/\1 &/p' | sort -n | tail -n 1)
    gen=- pub=-
    if [ -n "$img" ]; then
        gen=${img%% *}
        pub=$(stat -c %.9Z "$CALLROUTE_RUNTIME_DIR/${img#* }" 2>/dev/null || echo -)
    fi
    echo "$n $next $t0 $t1 $rc $gen $pub" >>"$T/reloads.txt"
    if [ "$rc" = 0 ]; then
        cur=$next
    else
        log "reload $n refused: $(cat "$T/reload$n.out")"
    fi
    sleep "$GAP"
done

# the caller stops placing calls (soft quit through its control port) and its calls end
if [ -z "$CALLS" ]; then
    echo q >"/dev/udp/127.0.0.1/$CPORT" 2>/dev/null || true
fi
for _ in $(seq 1 $((CALLS ? CALLS * 10 / CPS + 1200 : 1200))); do
    kill -0 "$UAC" 2>/dev/null || break
    sleep 0.1
done
kill -0 "$UAC" 2>/dev/null && e2e_fail "the caller did not end"
wait "$UAC" 2>/dev/null || true
sleep 1 # the gateways' last BYEs
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
drops=$(($(rcvbuf_errors) - drops_start))

rc=0
$E2E_PY "$E2E_DIR/reload_load_check.py" --uac "$T/uac.log" --gw "A=$T/gwA.log" --gw "B=$T/gwB.log" \
    --reloads "$T/reloads.txt" --kamailio "$T/kamailio.log" --sipp "$T/uac.out" --sipp-errors "$T/uac.err" \
    --children "$CHILDREN" --psx "$T/psx.txt" --initial A --meta "routes=$ROUTES" --meta "rules=$RULES" \
    --meta "users=$USERS" --meta "format=$FORMAT" --meta "children=$CHILDREN" --meta "cps=$CPS" \
    --meta "numbers=$(($(wc -l <"$T/numbers.csv") - 1))" --meta "loadavg_start=$load_start" \
    --meta "loadavg_end=$load_end" --meta "udp_rcvbuf_errors=$drops" >"$T/summary.txt" || rc=$?
sed -e '$s/^/reload_load: /' "$T/summary.txt"
if [ "$rc" != 0 ]; then
    echo "reload_load: FAIL (failed, unrouted or mis-routed calls, or a reload refused)" >&2
    exit 1
fi
log PASS
