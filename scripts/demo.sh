#!/usr/bin/env bash
# The README's first command: builds callroute (scripts/setup.sh), then runs Debian's
# Kamailio with the callroute module and the Contoso deployment (examples/contoso) on
# loopback, with sipp playing the four gateways (Red-GW1, Red-GW2, Dallas-GW1, NY-GW1) and
# bob's phone, places sample calls, prints what happened to each, and stops everything.
#
#   scripts/demo.sh [BUILD_DIR]       (default build/; DEMO_SKIP_SETUP=1 skips the build)
#
# Ports are picked at random (a copy of examples/contoso gets them), so the demo runs
# beside anything else on the machine. DEMO_KEEP=1 keeps the scratch directory with
# Kamailio's log and every gateway's sipp message trace.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}

if [ "${DEMO_SKIP_SETUP:-0}" != 1 ]; then
    "$top/scripts/setup.sh" "$build"
fi
build=$(cd "$build" && pwd)
# (scripts/try-packages.sh sets both to the installed packages' files)
export CR_MODULE=${CR_MODULE:-$build/plugin-api/kamailio/callroute.so}
export CR_LIBRARY=${CR_LIBRARY:-$build/plugin-api/libcallroute.so.1}
[ -f "$CR_MODULE" ] || { echo "demo: $CR_MODULE was not built (is Kamailio's source in .deps/?)" >&2; exit 1; }

. "$top/tests/e2e/lib.sh"
E2E_KEEP=${DEMO_KEEP:-0}
E2E_HOLDOFF=60
e2e_init

# The Contoso deployment with its gateways moved to free loopback ports.
read -r KPORT P1 P2 P3 P4 PBOB <<<"$(e2e_ports 6)"
cp "$top"/examples/contoso/*.xml "$E2E_TMP/"
sed -i -e "s|127.0.0.1:5071|127.0.0.1:$P1|" -e "s|127.0.0.1:5072|127.0.0.1:$P2|" \
    -e "s|127.0.0.1:5073|127.0.0.1:$P3|" -e "s|127.0.0.1:5074|127.0.0.1:$P4|" \
    "$E2E_TMP/contoso.xml"
declare -A GW_PORT=([Red-GW1]=$P1 [Red-GW2]=$P2 [Dallas-GW1]=$P3 [NY-GW1]=$P4 [bob]=$PBOB)
GATEWAYS=(Red-GW1 Red-GW2 Dallas-GW1 NY-GW1)

for gw in "${GATEWAYS[@]}" bob; do
    e2e_gateway "$gw" "${GW_PORT[$gw]}" gw_ok.xml
done
e2e_wait_ports "$P1" "$P2" "$P3" "$P4" "$PBOB"
e2e_start_kamailio "$KPORT" "$E2E_TMP/contoso.xml"
# bob's phone registers (here: a binding added through RPC) so internal calls reach it.
e2e_kamcmd ul.add location bob "sip:bob@127.0.0.1:$PBOB" 0 1.0 s:0 0 0 0 >/dev/null

echo
echo "Kamailio $(kamailio -v | head -n 1 | awk '{print $3}') on udp:127.0.0.1:$KPORT, routing with examples/contoso through callroute.so;"
echo "gateways (sipp): Red-GW1 :$P1, Red-GW2 :$P2, Dallas-GW1 :$P3, NY-GW1 :$P4; bob's phone :$PBOB"
echo

declare -A SEEN
for gw in "${GATEWAYS[@]}" bob; do SEEN[$gw]=0; done
ROWS=()

# Sets RECV to the gateways (and bob's phone) that received an INVITE since the previous
# call, with what each answered, and RURI to the user part of the last one's Request-URI.
received_by() {
    local gw n code
    RECV="" RURI=""
    for gw in "${GATEWAYS[@]}" bob; do
        n=$(e2e_count "$gw")
        if [ "$n" -gt "${SEEN[$gw]}" ]; then
            code=$(grep -a -E "^SIP/2.0 [2-6][0-9][0-9]" "$E2E_TMP/$gw.msg" | tail -n 1 | awk '{print $2}')
            RECV="$RECV${RECV:+ -> }$gw${code:+ ($code)}"
            RURI=$(e2e_received "$gw" | tail -n 1 | sed -E 's/^sips?:([^@;]*).*/\1/')
            SEEN[$gw]=$n
        fi
    done
    RECV=${RECV:--}
}

# place WHAT CALLER NUMBER: one call; records a table row.
place() {
    local what=$1 caller=$2 number=$3 port before line decision route status
    port=$(e2e_ports 1)
    before=$(grep -c "callroute: " "$E2E_TMP/kamailio.log" || true)
    rm -f "$E2E_TMP/uac.msg"
    timeout 30 "$SIPP" "127.0.0.1:$KPORT" -sf "$E2E_DIR/scenarios/uac_any.xml" -s "$number" \
        -key caller "$caller" -m 1 -i 127.0.0.1 -p "$port" -t u1 -nostdin -timeout 20s \
        -trace_msg -message_file "$E2E_TMP/uac.msg" >/dev/null 2>&1 </dev/null || true
    sleep 0.2
    status=$(grep -a -E "^SIP/2.0 [2-6][0-9][0-9]" "$E2E_TMP/uac.msg" 2>/dev/null | head -n 1 \
             | cut -d' ' -f2- | tr -d '\r')
    line=$(grep "callroute: " "$E2E_TMP/kamailio.log" | tail -n +"$((before + 1))" \
           | grep -v "next attempt" | head -n 1 | sed 's/.*callroute: //')
    # "sip:alice@contoso.com dialed 5550199: outbound +14255550199 via Red-GW1 (route R, usage U)"
    line=$(sed -E 's/^[^:]*:[^:]*: //' <<<"$line")
    decision=$(sed -E 's/ via .*//; s/ \(.*//; s/ -> .*//' <<<"$line")
    route=$(sed -nE 's/.*\(route ([^,]*), usage ([^)]*)\).*/\1 [\2]/p' <<<"$line")
    [ -n "$route" ] || route=$(sed -nE 's/.* -> (sip:.*)/user \1/p; s/^blocked [^ ]* \((.*)\)$/\1/p' <<<"$line")
    received_by
    ROWS+=("$what|$caller|$number|${decision:-?}|$route|$RECV|$RURI|${status:-no answer}")
}

place "Redmond local (7 digits)"         alice 5550199
place "Redmond local, next call"         alice 5550198
place "Dallas local from Redmond"        alice 12145550100
place "long distance (Universal Route)"  alice 12035550100
place "international"                    alice 01191445550100
place "911 from Redmond"                 bob   911
place "911 from Dallas"                  dave  911
place "911 from New York (removePlus)"   nina  911
place "New York local, 7 digits"         nina  5550142
place "blocked premium 1900"             alice 19005550100
place "internal: bob's extension"        alice 50101
place "Dallas user, source-based"        dave  2065550100

# Failover: Red-GW1 starts answering 503 with Retry-After: 60 (the failure class that holds a
# gateway down that long; a 503 without it fails over that call only). International calls
# leave by Red-GW1 (Intl Route) with the Universal Route's gateways as failover.
kill -TERM "$E2E_GW_PID_Red_GW1" 2>/dev/null || true
wait "$E2E_GW_PID_Red_GW1" 2>/dev/null || true
mv "$E2E_TMP/Red-GW1.msg" "$E2E_TMP/Red-GW1.ok.msg"
SEEN[Red-GW1]=0
sed -e "s/@CODE@/503/g" -e "s/@REASON@/Service Unavailable/g" \
    -e 's/^\( *\)Content-Length: 0/\1Retry-After: 60\n\1Content-Length: 0/' \
    "$E2E_DIR/scenarios/gw_fail.xml" >"$E2E_TMP/gw_503_retry.xml"
e2e_gateway Red-GW1 "$P1" "$E2E_TMP/gw_503_retry.xml"
e2e_wait_ports "$P1"
place "Red-GW1: 503, Retry-After 60"     alice 01191445550101
place "Red-GW1 now skipped (held down)"   alice 01191445550102

printf '\n%-31s %-5s %-15s %-23s %-44s %-36s %-13s %s\n' "call" "from" "dialed" \
    "decision" "route [usage] / target / reason" "received by (answer)" "R-URI user" "caller got"
printf '%s\n' "$(printf '%.0s-' $(seq 1 185))"
for row in "${ROWS[@]}"; do
    IFS='|' read -r what caller number decision route recv ruri status <<<"$row"
    printf '%-31s %-5s %-15s %-23s %-44.44s %-36s %-13s %s\n' "$what" "$caller" "$number" \
        "$decision" "$route" "$recv" "${ruri:--}" "$status"
done
echo
echo "callroute.gateways:"
e2e_kamcmd callroute.gateways | tr -d '\t{}' | grep -v '^$' | paste -sd' ' \
    | sed -e 's/ name: /\n  /g' -e 's/^name: /  /' ; echo
echo "callroute.route sip:alice@contoso.com 5550100 (the Route Helper over RPC):"
e2e_kamcmd callroute.route sip:alice@contoso.com s:5550100 | sed 's/^/  /'
echo
echo "demo: done; stopping Kamailio and the sipp gateways"

# Response groups: one call into a hunt group, rung and answered by sipp agents.
echo
echo "== response groups in Kamailio (examples/kamailio/rgs-demo.sh)"
"$top/examples/kamailio/rgs-demo.sh" "$build"
