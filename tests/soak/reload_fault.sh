#!/usr/bin/env bash
# A refused callroute.reload must reach kamcmd as an error, however long the library's
# message is. Found by the soak: Kamailio 5.6's ctl (binrpc) drops a fault phrase of 255
# bytes or more ("_rpc_fault: add_str_mark error ... buffer too small" in Kamailio's log)
# and kamcmd then prints nothing and exits 0, so a refused reload looks accepted. A broken
# file with two errors and a long path is enough.
#   CR_MODULE=... CR_LIBRARY=... tests/soak/reload_fault.sh
set -euo pipefail
SOAK_DIR=$(cd "$(dirname "$0")" && pwd)
E2E_CFG=$SOAK_DIR/kamailio-soak.cfg
. "$SOAK_DIR/../e2e/lib.sh"

e2e_init
read -r KPORT PORT_A PORT_B PORT_C <<<"$(e2e_ports 4)"
XML=$E2E_TMP/a-configuration-file-with-a-long-name-as-deployments-have-them.xml
e2e_fixture "$SOAK_DIR/soak.xml" "$XML"
e2e_start_kamailio "$KPORT" "$XML"

# Short message (one error): refused, and kamcmd says so.
cp "$XML" "$E2E_TMP/good.xml"
echo "<callroute><routes><route" > "$XML"
if out=$(e2e_kamcmd callroute.reload 2>&1); then
    e2e_fail "a truncated file: kamcmd reported success: '$out'"
fi
e2e_log "ok: short refusal reported: $(head -c 120 <<<"$out")"

# Long message (a duplicate gateway, then a route naming the one that disappeared).
sed 's|name="GW-C"|name="GW-B"|' "$E2E_TMP/good.xml" > "$XML"
if out=$(e2e_kamcmd callroute.reload 2>&1); then
    grep -a "_rpc_fault" "$E2E_TMP/kamailio.log" | tail -n 2 >&2 || true
    e2e_fail "a refused reload with a long error reached kamcmd as success (output: '$out')"
fi
grep -q "duplicate name" <<<"$out" || e2e_fail "the refusal does not name the first error: '$out'"
e2e_log "ok: long refusal reported: $(head -c 160 <<<"$out")"

# Routing continues on the running plan: the good file reloads again.
cp "$E2E_TMP/good.xml" "$XML"
e2e_kamcmd callroute.reload >/dev/null || e2e_fail "the good file was refused after the broken ones"
