#!/usr/bin/env bash
# Response groups in Kamailio, on loopback: examples/kamailio/kamailio.cfg with the callroute
# module and examples/workflows/kamailio-huntgroups.xml; sipp plays the agents (ann never
# answers, ben answers), which REGISTER like phones, and the caller. One call to the Sales
# hunt group; prints who rang, who answered, the queue event log, the agents and counters.
#
#   examples/kamailio/rgs-demo.sh [BUILD_DIR]     (default build/, built by scripts/setup.sh)
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$top/build}" && pwd)
export CR_MODULE=$build/plugin-api/kamailio/callroute.so
export CR_LIBRARY=$build/plugin-api/libcallroute.so.1
[ -f "$CR_MODULE" ] || { echo "rgs-demo: build first (scripts/setup.sh)" >&2; exit 1; }
. "$top/tests/e2e/lib.sh"
E2E_KEEP=${DEMO_KEEP:-0}
e2e_init

read -r KPORT VM <<<"$(e2e_ports 2)"
sed "s/@VM@/127.0.0.1:$VM/g" "$top/examples/workflows/kamailio-huntgroups.xml" >"$E2E_TMP/rg.xml"
e2e_start_kamailio "$KPORT" "$E2E_TMP/rg.xml" -A "CR_RGS_STATE=\"$E2E_TMP/rgs-state\"" \
    -A "CR_RGS_LOG=\"$E2E_TMP/queue.log\""

# Agents: a sipp phone each, registered with a REGISTER from a second sipp.
agent() {
    local name=$1 scen=$2 port rport
    read -r port rport <<<"$(e2e_ports 2)"
    e2e_gateway "$name" "$port" "$scen"
    e2e_wait_ports "$port"
    "$SIPP" "127.0.0.1:$KPORT" -sf "$E2E_DIR/scenarios/register.xml" -key user "$name" \
        -key contact_port "$port" -m 1 -i 127.0.0.1 -p "$rport" -t u1 -nostdin -timeout 10s \
        -timeout_error >/dev/null 2>&1 </dev/null
    echo "agent $name registered (sip:$name@127.0.0.1:$port)"
}
agent ann uas_ring.xml
agent ben gw_ok.xml

echo "calling sip:sales@contoso.com (parallel hunt group: ann, ben)"
e2e_call alice sales && echo "call answered" || echo "call FAILED"
# answered: the agent's call was connected (it got the caller's BYE)
for a in ann ben; do
    printf '  %s: rang %s time(s)%s%s\n' "$a" "$(e2e_count $a)" \
        "$(grep -a -q '^CANCEL' "$E2E_TMP/$a.msg" && echo ', cancelled')" \
        "$(grep -a -q '^BYE' "$E2E_TMP/$a.msg" && echo ', answered')"
done
# the replies to the caller's INVITE
echo "caller got: $(awk '/^SIP\/2.0 / { st = $2 " " $3 } /^CSeq:.*INVITE/ && st { print st; st = "" }' \
    "$E2E_TMP/uac.msg" | paste -sd, | sed 's/,/, /g')"
echo "queue event log:"
sed 's/^/  /' "$E2E_TMP/queue.log"
echo "kamcmd callroute.rgs.agents:"
e2e_kamcmd callroute.rgs.agents | sed 's/^/  /'
echo "kamcmd stats.get_statistics callroute: (Sales)"
e2e_kamcmd stats.get_statistics callroute: | grep 'callroute:sales_' | sed 's/^/  /'
