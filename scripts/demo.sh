#!/usr/bin/env bash
# The README's first command: builds callroute (scripts/setup.sh), then runs Debian's
# Kamailio with the callroute module and the Contoso deployment (examples/contoso) on
# loopback, with sipp playing the four gateways (Red-GW1, Red-GW2, Dallas-GW1, NY-GW1) and
# bob's phone, places sample calls, prints what happened to each; then one call into the
# main line's IVR (examples/contoso/responsegroups.xml, main_ivr.lua): the caller (sipp,
# RTP and an RFC 2833 key) hears the menu through the demo's own rtpengine, presses 2, waits
# in the Support queue and talks to the agent (a registered sipp phone); a second table
# shows the key, the queue, the agent and the RTP packets each side received (counted on lo
# with a raw socket: root; otherwise "-"). Stops everything it started.
#
#   scripts/demo.sh [BUILD_DIR]       (default build/; DEMO_SKIP_SETUP=1 skips the build)
#
# Ports are picked at random (a copy of examples/contoso gets them), so the demo runs
# beside anything else on the machine. DEMO_KEEP=1 keeps the scratch directory with
# Kamailio's log and every gateway's sipp message trace. DEMO_IVR_KEY=1 presses 1 (Sales)
# in the IVR call instead of 2 (Support).
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
cp "$top"/examples/contoso/*.xml "$top"/examples/contoso/*.lua "$E2E_TMP/"
sed -i -e "s|127.0.0.1:5071|127.0.0.1:$P1|" -e "s|127.0.0.1:5072|127.0.0.1:$P2|" \
    -e "s|127.0.0.1:5073|127.0.0.1:$P3|" -e "s|127.0.0.1:5074|127.0.0.1:$P4|" \
    "$E2E_TMP/contoso.xml"
declare -A GW_PORT=([Red-GW1]=$P1 [Red-GW2]=$P2 [Dallas-GW1]=$P3 [NY-GW1]=$P4 [bob]=$PBOB)
GATEWAYS=(Red-GW1 Red-GW2 Dallas-GW1 NY-GW1)

for gw in "${GATEWAYS[@]}" bob; do
    e2e_gateway "$gw" "${GW_PORT[$gw]}" gw_ok.xml
done
e2e_wait_ports "$P1" "$P2" "$P3" "$P4" "$PBOB"
# The IVR's media: rtpengine on loopback (its control and DTMF ports and the phones' RTP
# ports reserved like the media tests'); prompts from examples/contoso/prompts.
read -r NG DTMF <<<"$(e2e_media_ports1 2)"
read -r CMP AMP_DANA AMP_SAM <<<"$(e2e_media_ports 3)"
e2e_start_rtpengine "$NG" "$DTMF"
e2e_start_kamailio "$KPORT" "$E2E_TMP/contoso.xml" \
    -A "CR_RTPENGINE_SOCK=\"udp:127.0.0.1:$NG\"" -A "CR_RTPENGINE_DTMF=\"127.0.0.1:$DTMF\"" \
    -A "CR_MEDIA_DIR=\"$top/examples/contoso/prompts\"" \
    -A "CR_RGS_LOG=\"$E2E_TMP/queue.log\"" -A "CR_RGS_EVENTS=\"$E2E_TMP/events.txt\""
# bob's phone registers (here: a binding added through RPC) so internal calls reach it.
e2e_kamcmd ul.add location bob "sip:bob@127.0.0.1:$PBOB" 0 1.0 s:0 0 0 0 >/dev/null

echo
echo "Kamailio $(kamailio -v | head -n 1 | awk '{print $3}') on udp:127.0.0.1:$KPORT, routing with examples/contoso through callroute.so;"
echo "gateways (sipp): Red-GW1 :$P1, Red-GW2 :$P2, Dallas-GW1 :$P3, NY-GW1 :$P4; bob's phone :$PBOB"
echo "rtpengine $(rtpengine --version 2>&1 | awk '{print $NF; exit}') on 127.0.0.1:$NG (ng), DTMF events to :$DTMF"
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

# One call into the IVR of Contoso's main line (+14255550150, examples/contoso/main_ivr.lua):
# the agents' phones (sipp, RTP) register; alice's phone (sipp) calls, gets the menu prompt
# (2 s) as early media, presses 2 (RFC 2833) 2.5 s after the 183, hears music on hold while
# dana's phone rings (2 s), then both send RTP (g711a.pcap) for 4 s and alice hangs up.
IVR_NUMBER=+14255550150 IVR_KEY=${DEMO_IVR_KEY:-2}
[[ "$IVR_KEY" =~ ^[0-9]$ ]] || { echo "demo: DEMO_IVR_KEY must be one digit (1 Sales, 2 Support)" >&2; exit 2; }
e2e_agent dana media_agent.xml "$AMP_DANA"
e2e_agent sam media_agent.xml "$AMP_SAM"
SNIFF=0
if [ "$(id -u)" = 0 ]; then
    e2e_sniff_start "$CMP" "$AMP_DANA" "$AMP_SAM"
    SNIFF=1
fi
e2e_ivr_caller "$E2E_TMP/ivr_caller.xml" w1000 "$IVR_KEY"
IVR_OK=1
e2e_media_call ivr "$E2E_TMP/ivr_caller.xml" "$IVR_NUMBER" "$CMP" || IVR_OK=0
[ "$SNIFF" = 0 ] || e2e_sniff_stop
ivr_status=$(awk '/^SIP\/2.0 / { st = substr($0, 9); sub(/\r$/, "", st) }
    /^CSeq:.*INVITE/ && st { print st; st = "" }' "$E2E_TMP/ivr.msg" 2>/dev/null \
    | paste -sd, | sed 's/,/, /g')
# the keys the engine got (its input timeline), the queue and the agent (the queue log)
ivr_keys=$(awk '$2 == "dtmf" { printf "%s", $4 }' "$E2E_TMP/events.txt" 2>/dev/null)
ivr_queue=$(sed -nE 's/.* connected .*queue="([^"]*)".*/\1/p' "$E2E_TMP/queue.log" 2>/dev/null | tail -n 1)
ivr_agent=$(sed -nE 's/.* connected .*agent=([^ ]*).*/\1/p' "$E2E_TMP/queue.log" 2>/dev/null | tail -n 1)
# RTP: to alice's phone before the answer (menu, music on hold) and after it (the agent), to
# the agent's phone after the answer (alice)
rtp_pre=- rtp_talk=- rtp_caller=- rtp_agent=-
if [ "$SNIFF" = 1 ] && t0=$(e2e_msg_time ivr sent "^INVITE ") \
    && t200=$(e2e_msg_time ivr received "^SIP/2.0 200") && tbye=$(e2e_msg_time ivr sent "^BYE "); then
    tend=$($E2E_PY -c "print($tbye + 1)")
    rtp_pre=$(e2e_rtp "$CMP" "$t0" "$t200")
    rtp_talk=$(e2e_rtp "$CMP" "$t200" "$tend")
    rtp_caller=$((rtp_pre + rtp_talk))
    case $ivr_agent in
    sip:sam@*) rtp_agent=$(e2e_rtp "$AMP_SAM" "$t0" "$tend") ;;
    sip:dana@*) rtp_agent=$(e2e_rtp "$AMP_DANA" "$t0" "$tend") ;;
    esac
fi
# rtpengine's sessions once the call ended (the BYE deletes it)
left="?"
for _ in $(seq 1 30); do
    left=$(e2e_rtpengine_sessions "$NG" | grep -c . || true)
    [ "$left" = 0 ] && break
    sleep 0.1
done

echo
echo "IVR call: alice dials $IVR_NUMBER (Main Line: press 1 for sales, 2 for support) and presses $IVR_KEY"
printf '\n%-15s %-4s %-9s %-22s %-14s %-15s %-14s %s\n' "IVR call" "key" "queue" "agent" \
    "caller RTP in" "(IVR+hold/talk)" "agent RTP in" "caller got"
printf '%s\n' "$(printf '%.0s-' $(seq 1 120))"
printf '%-15s %-4s %-9s %-22s %-14s %-15s %-14s %s\n' "$IVR_NUMBER" "${ivr_keys:--}" \
    "${ivr_queue:--}" "${ivr_agent:--}" "$rtp_caller" "($rtp_pre/$rtp_talk)" "$rtp_agent" \
    "${ivr_status:-no answer}"
[ "$SNIFF" = 1 ] || echo "(RTP is counted on lo with a raw socket: run the demo as root to see the counts)"
echo "played through rtpengine: $(sed -nE 's/.*response groups: (prompt|music on hold) ([^ ]*) to .*/\1 \2/p' \
    "$E2E_TMP/kamailio.log" | paste -sd, | sed 's/,/, /g'); rtpengine sessions left: $left"
# the engine's input timeline, in seconds from the call's arrival
echo "timeline (s): $(awk '$1 !~ /^#/ && NF >= 3 { if (t0 == "") t0 = $1
    printf "%s%s %.1f", sep, $2 ($2 == "dtmf" ? " " $4 : ""), $1 - t0; sep = ", " }' \
    "$E2E_TMP/events.txt" 2>/dev/null)"
echo "agents' phones: dana (Support) rang $(e2e_count dana) time(s), sam (Sales) $(e2e_count sam)"
echo "queue event log:"
sed 's/^/  /' "$E2E_TMP/queue.log" 2>/dev/null || true
if [ "$IVR_OK" != 1 ]; then
    echo "demo: the IVR call FAILED (sipp: $(tail -n 3 "$E2E_TMP/ivr.err" 2>/dev/null | tr '\n' ' '))" >&2
    exit 1
fi

echo
echo "demo: done; stopping Kamailio, rtpengine and the sipp phones"

# Response groups: one call into a hunt group, rung and answered by sipp agents.
echo
echo "== response groups in Kamailio (examples/kamailio/rgs-demo.sh)"
"$top/examples/kamailio/rgs-demo.sh" "$build"
