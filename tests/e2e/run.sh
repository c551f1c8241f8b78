#!/usr/bin/env bash
# End-to-end cases: Debian's /usr/sbin/kamailio running examples/kamailio/kamailio.cfg with
# the callroute module, sipp phones and sipp gateways on reserved loopback ports (tests/e2e/lib.sh e2e_ports).
#   CR_MODULE=.../callroute.so CR_LIBRARY=.../libcallroute.so.1 tests/e2e/run.sh CASE
# Cases: config_check param_errors docs_names module_symbols outbound long_uri remove_plus failover failover_timeout no_failover blocked internal inbound
#        user_to_user pkg_stats myself kemi kemi_wrong_route rpc_route reload_broken reload_changed image_rewritten; calls to users (callroute_user, fixtures/users.xml):
#        user_simring user_simring_failover user_team_call user_no_answer user_no_answer_silent user_no_answer_pstn
#        user_failover_race
#        user_unregistered user_busy user_caller_cancel user_simring_race user_simring_silent user_timer_race
#        user_pbx_fork user_pbx_from_pbx;
#        gateway health:
#        gw_manual_state gw_full gw_full_stateless_bye gw_full_refused gw_probe; stats (counters and log lines).
#        E2E_KEEP=1 keeps the scratch directory (logs, sipp traces).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

case_name=${1:?usage: run.sh CASE}
e2e_init
FIXTURE=$E2E_DIR/fixtures/e2e.xml
read -r KPORT PORT_A PORT_B PORT_C PORT_U <<<"$(e2e_ports 5)"
XML=$E2E_TMP/routes.xml
e2e_fixture "$FIXTURE" "$XML"

# The three gateways answer every call unless a case says otherwise.
start_gateways() {
    if [ -n "${GW_A_FAIL:-}" ]; then
        e2e_gateway_fail gwA "$PORT_A" "$GW_A_FAIL" "${GW_A_REASON:-Failed}"
    else
        e2e_gateway gwA "$PORT_A" gw_ok.xml
    fi
    e2e_gateway gwB "$PORT_B" gw_ok.xml
    e2e_gateway gwC "$PORT_C" gw_ok.xml
    e2e_wait_ports "$PORT_A" "$PORT_B" "$PORT_C"
}

# bob's phone, registered in the location table through RPC.
start_bob() {
    e2e_gateway bob "$PORT_U" gw_ok.xml
    e2e_wait_ports "$PORT_U"
    e2e_kamcmd ul.add location bob "sip:bob@127.0.0.1:$PORT_U" 0 1.0 s:0 0 0 0 >/dev/null \
        || e2e_fail "ul.add bob"
}

# The users fixture (callroute_user cases): PORT_D is the voicemail server.
use_users_fixture() {
    read -r PORT_D <<<"$(e2e_ports 1)"
    XML=$E2E_TMP/users.xml
    e2e_fixture "$E2E_DIR/fixtures/users.xml" "$XML"
}

# start_phone AOR SCENARIO: a sipp phone for user AOR (sip:AOR@contoso.com) on a free port,
# registered in the location table through RPC. Its trace is $E2E_TMP/AOR.msg.
start_phone() {
    local aor=$1 scen=$2 port
    port=$(e2e_ports 1)
    e2e_gateway "$aor" "$port" "$scen"
    e2e_wait_ports "$port"
    e2e_kamcmd ul.add location "$aor" "sip:$aor@127.0.0.1:$port" 0 1.0 s:0 0 0 0 >/dev/null \
        || e2e_fail "ul.add $aor"
    eval "PHONE_PORT_$aor=$port"
}

# pygw NAME PORT [gw.py args]: a Python gateway (tests/e2e/gw.py) that also answers OPTIONS;
# its requests are logged in $E2E_TMP/NAME.log.
pygw() {
    local name=$1 port=$2
    shift 2
    $E2E_PY "$E2E_DIR/gw.py" "$port" "$E2E_TMP/$name.log" "$@" >"$E2E_TMP/$name.out" 2>&1 &
    E2E_PIDS+=("$!")
}

# pygw_count NAME: INVITE transactions the Python gateway NAME received.
pygw_count() {
    awk '$1 == "INVITE" && !seen[$4]++' "$E2E_TMP/$1.log" 2>/dev/null | wc -l
}

# pygw_got NAME METHOD: NAME received a METHOD request (waits up to 20 s).
pygw_got() {
    for _ in $(seq 1 200); do
        grep -q "^$2 " "$E2E_TMP/$1.log" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# gw_state_is NAME REGEX: callroute.gateways shows gateway NAME's entry matching REGEX
# (waits up to 20 s: probes and timers on a loaded machine).
gw_state_is() {
    for _ in $(seq 1 100); do
        e2e_kamcmd callroute.gateways | tr -d '\n' | grep -Eq "name: $1[^}]*$2" && return 0
        sleep 0.2
    done
    e2e_kamcmd callroute.gateways >&2
    return 1
}

case $case_name in
config_check)
    out=$("$KAMAILIO" -c -f "$E2E_CFG" -A "CR_MODULE=\"$CR_MODULE\"" \
          -A "CR_LIBRARY=\"$CR_LIBRARY\"" -A "CR_CONFIG=\"$XML\"" 2>&1) \
        || { echo "$out" >&2; e2e_fail "kamailio -c refused the example config"; }
    grep -q "config file ok" <<<"$out" || e2e_fail "no 'config file ok' from kamailio -c"
    # The baseline variant (load test) must parse too.
    "$KAMAILIO" -c -f "$E2E_CFG" -A "CR_BASELINE=\"sip:127.0.0.1:$PORT_A\"" >/dev/null 2>&1 \
        || e2e_fail "kamailio -c refused the CR_BASELINE variant"
    e2e_log "ok: kamailio -c accepts the example config with the module"
    # mod_init refusing a parameter still logs what the library said while the "config"
    # parameter loaded it and read the image ahead (kept until mod_init), then the refusal
    "${CR_CLI:-$(dirname "$CR_LIBRARY")/callroute}" compile --config "$XML" \
        -o "$E2E_TMP/routes.plan" >/dev/null || e2e_fail "compile"
    rc=0
    out=$(timeout 30 "$KAMAILIO" -DD -E -f "$E2E_CFG" -Y "$E2E_TMP" -w "$E2E_TMP" -m 64 -M 8 \
        -A "LISTEN=udp:127.0.0.1:$KPORT" -A "CR_MODULE=\"$CR_MODULE\"" \
        -A "CR_LIBRARY=\"$CR_LIBRARY\"" -A "CR_CONFIG=\"$E2E_TMP/routes.plan\"" \
        -A "CTL_SOCKET=\"unix:$E2E_TMP/kamailio_ctl\"" -A 'CR_LOG_LEVEL="loud"' 2>&1) || rc=$?
    [ "$rc" != 0 ] && [ "$rc" != 124 ] || { echo "$out" >&2; e2e_fail "kamailio started with log_level \"loud\" (rc $rc)"; }
    grep -q 'log_level must be debug, info or notice (not "loud")' <<<"$out" \
        || { echo "$out" >&2; e2e_fail "no log_level refusal"; }
    grep -q "loaded .*libcallroute.so.1 (callroute .*, ABI " <<<"$out" \
        || { echo "$out" >&2; e2e_fail "the library's lines from the config parameter were lost"; }
    e2e_log "ok: a refused parameter still logs the library's lines from the config parameter"
    ;;

param_errors)
    # A wrong module parameter stops Kamailio at startup with a line naming the parameter
    # and what it must be: never a crash, never a start with some other value.
    # refused WHAT EXPECTED [kamailio -A ...]: Kamailio exits by itself (not by a signal,
    # not still running after 20 s) and its output has the line EXPECTED (fixed string).
    refused() {
        local what=$1 expect=$2 out rc=0
        shift 2
        out=$(timeout 20 "$KAMAILIO" -DD -E -f "${CFG:-$E2E_CFG}" -Y "$E2E_TMP" -w "$E2E_TMP" -m 64 -M 8 \
            -A "LISTEN=udp:127.0.0.1:$KPORT" -A "CR_MODULE=\"$CR_MODULE\"" \
            -A "CR_LIBRARY=\"${LIB:-$CR_LIBRARY}\"" -A "CR_CONFIG=\"${CONF:-$XML}\"" \
            -A "CTL_SOCKET=\"unix:$E2E_TMP/kamailio_ctl\"" "$@" 2>&1) || rc=$?
        [ "$rc" = 124 ] && { echo "$out" | tail -20 >&2; e2e_fail "$what: Kamailio started"; }
        [ "$rc" = 0 ] || [ "$rc" -ge 128 ] && [ "$rc" != 255 ] \
            && { echo "$out" | tail -20 >&2; e2e_fail "$what: Kamailio ended with status $rc"; }
        grep -qF -- "$expect" <<<"$out" || { echo "$out" | tail -20 >&2; e2e_fail "$what: no line '$expect'"; }
        e2e_log "ok: $what refused: $expect"
    }
    refused "gateway_holdoff -5" "gateway_holdoff must be >= 0 seconds, not -5" -A CR_HOLDOFF=-5
    refused "gateway_holdoff as a string" "parameter <gateway_holdoff> of type <1:string> not found in module <callroute>" -A 'CR_HOLDOFF="thirty"'
    refused "gateway_fail_threshold 0" "gateway_fail_threshold must be >= 1, not 0" -A CR_FAIL_THRESHOLD=0
    refused "gateway_probe_interval -1" "gateway_probe_interval must be >= 0 seconds (0 = no probes), not -1" -A CR_PROBE=-1
    refused "rgs_max_wait 5" "rgs_max_wait must be >= 10 seconds" -A CR_RGS_MAX_WAIT=5
    # tm's timers are 1/16 s ticks in 32 bits: 300000 s would wrap to about 8.8 hours
    refused "rgs_max_wait 300000" "rgs_max_wait must be <= 268435 seconds, the longest timer tm keeps (not 300000)" -A CR_RGS_MAX_WAIT=300000
    refused "rtpengine_sock tcp:" 'rtpengine_sock "tcp:127.0.0.1:2223": not udp:IPv4:PORT' -A 'CR_RTPENGINE_SOCK="tcp:127.0.0.1:2223"'
    refused "log_level loud" 'log_level must be debug, info or notice (not "loud")' -A 'CR_LOG_LEVEL="loud"'
    LIB=$E2E_TMP/none/libcallroute.so.1 refused "a library that is not there" "cannot load library $E2E_TMP/none/libcallroute.so.1"
    CONF=$E2E_TMP/none.xml refused "a configuration that is not there" "cannot read '$E2E_TMP/none.xml'"
    printf '<callroute xmlns="urn:callroute:config:1">\n  <gateways>\n' >"$E2E_TMP/broken.xml"
    CONF=$E2E_TMP/broken.xml refused "a broken configuration" "broken.xml:3: error:"
    # a parameter the module does not have (a typo), and a function with the wrong arguments
    CFG=$E2E_TMP/typo.cfg
    sed 's|"gateway_probe_interval", CR_PROBE)|"gateway_probe_intervall", CR_PROBE)|' "$E2E_CFG" >"$CFG"
    refused "an unknown parameter" "parameter <gateway_probe_intervall> of type <2:int> not found in module <callroute>"
    sed 's|^\tcallroute_route();$|\tcallroute_route("$fu");|' "$E2E_CFG" >"$CFG"
    refused "callroute_route with one argument" "failed to find command callroute_route (params 1)"
    sed 's|^\tcallroute_route();$|\tcallroute_next();|' "$E2E_CFG" >"$CFG"
    refused "callroute_next() in a request route" "misused command callroute_next"
    sed 's|^\tcallroute_route();$|\txlog("$callroute(gw)");|' "$E2E_CFG" >"$CFG"
    refused "\$callroute(gw)" 'unknown $callroute(gw)'
    unset CFG
    # gateway_holdoff 0 is the library's default, 30 s: said at startup
    E2E_HOLDOFF=0 e2e_start_kamailio "$KPORT" "$XML"
    grep -q "gateway_holdoff 0: a failed gateway is held down for the default, 30 s" "$E2E_TMP/kamailio.log" \
        || e2e_fail "no warning for gateway_holdoff 0"
    e2e_log "ok: gateway_holdoff 0 warned of"
    ;;

docs_names)
    # Every name the module exports (script functions, parameters, RPC commands, KEMI
    # functions, $callroute fields, counters), read from its export tables, is documented
    # in plugin-api/kamailio/README.md (as `name`; a histogram bucket also as `_le_...`).
    src=$E2E_TOP/plugin-api/kamailio
    doc=$src/README.md
    names() { grep -o "$2" "$1" | sed 's/^[^"]*"//; s/"$//' | sort -u; }
    missing=""
    check() {
        local kind=$1 n
        shift
        for n in "$@"; do
            grep -qF -- "\`$n" "$doc" || grep -qF -- "|$n\`" "$doc" || grep -qF -- "|$n|" "$doc" \
                || grep -qF -- "\`_${n#decision_time_}\`" "$doc" || missing="$missing $kind:$n"
        done
    }
    fns=$(sed -n '/static cmd_export_t cmds/,/^};/p' "$src/callroute_mod.c" | grep -o '{"[a-z_]*"' | tr -d '{"' | sort -u)
    params=$(sed -n '/static param_export_t params/,/^};/p' "$src/callroute_mod.c" | grep -o '{"[a-z_]*"' | tr -d '{"' | sort -u)
    rpcs=$(cat "$src"/*.c | grep -o '{"callroute\.[a-z_.]*"' | tr -d '{"' | sort -u)
    kemi=$(sed -n '/crm_kemi_exports\[\]/,/^};/p' "$src/callroute_mod.c" | grep -o 'str_init("callroute_[a-z_]*")' | sed 's/str_init("//; s/")//' | sort -u)
    pvs=$(sed -n '/crv_field_names\[/,/};/p' "$src/crv_pv_rpc.c" | grep -o '"[a-z_]*"' | tr -d '"')
    counters=$(sed -n '/crs_names\[/,/};/p;/crs_bucket_names\[/,/};/p' "$src/crs_stats.c" | grep -o '"[a-z_0-9]*"' | tr -d '"'; echo decision_time_us_sum gateways_down)
    for x in fns params rpcs kemi pvs counters; do
        [ -n "${!x}" ] || e2e_fail "no $x read from the module's sources (the test's patterns are stale)"
    done
    check function $fns
    check modparam $params
    check rpc $rpcs
    check kemi $kemi
    for n in $pvs; do
        grep -Eq "\\\$callroute\(([a-z_]+\|)*$n(\|[a-z_]+)*\)" "$doc" || missing="$missing pv:$n"
    done
    check counter $counters
    [ -z "$missing" ] || e2e_fail "exported but not documented in $doc:$missing"
    e2e_log "ok: $(wc -w <<<"$fns $params $rpcs $kemi $pvs $counters") exported names are documented"
    ;;

module_symbols)
    # The module exports what Kamailio's loader looks up, and nothing else.
    syms=$(nm -D --defined-only "$CR_MODULE" | awk '{print $3}' | sort | paste -sd' ')
    [ "$syms" = "exports mod_register module_flags module_interface_ver module_version" ] \
        || e2e_fail "callroute.so exports: $syms"
    nm -D --undefined-only "$CR_MODULE" | grep -q ' cr_' && e2e_fail "callroute.so links libcallroute"
    e2e_log "ok: callroute.so exports $syms"
    ;;

outbound)
    start_gateways
    e2e_start_kamailio "$KPORT" "$XML"
    # 7-digit local number, Redmond profile: +1425..., Local Route, GW-A.
    e2e_call alice 5550123 || e2e_fail "local call 5550123 not answered"
    e2e_expect_invite gwA "^sip:\+14255550123@"
    # 10-digit number outside 425: Long-Distance via GW-B.
    e2e_call alice 2065550123 || e2e_fail "long-distance call not answered"
    e2e_expect_invite gwB "^sip:\+12065550123@"
    # International via GW-C, which has removePlus: no '+' in its Request-URI.
    e2e_call alice 011441632960123 || e2e_fail "international call not answered"
    e2e_expect_invite gwC "^sip:441632960123@"
    # 911 matches no normalization rule and goes out unchanged on the Emergency Route.
    e2e_call alice 911 || e2e_fail "911 not answered"
    e2e_expect_invite gwA "^sip:911@"
    [ "$(e2e_count gwA)" = 2 ] && [ "$(e2e_count gwB)" = 1 ] && [ "$(e2e_count gwC)" = 1 ] \
        || e2e_fail "unexpected INVITE counts A=$(e2e_count gwA) B=$(e2e_count gwB) C=$(e2e_count gwC)"
    ;;

remove_plus)
    # removePlus strips '+' from the To header too, not only from the Request-URI.
    start_gateways
    e2e_start_kamailio "$KPORT" "$XML"
    e2e_call alice +441632960123 || e2e_fail "international call not answered"
    e2e_expect_invite gwC "^sip:441632960123@"
    to=$(grep -a -i -E "^(To|t):" "$E2E_TMP/gwC.msg" | head -n 1)
    [[ "$to" =~ sip:441632960123@ ]] || e2e_fail "gwC: To still carries '+': $to"
    e2e_log "ok: gwC received $to"
    # a gateway without removePlus keeps the '+'
    e2e_call alice +12065550123 || e2e_fail "long-distance call not answered"
    to=$(grep -a -i -E "^(To|t):" "$E2E_TMP/gwB.msg" | tail -n 1)
    [[ "$to" =~ sip:\+12065550123@ ]] || e2e_fail "gwB: To lost its '+': $to"
    ;;

failover)
    # A 503 without Retry-After fails over that call only: the next call tries GW-A first
    # again; the third 503 in a row (gateway_fail_threshold 3) holds GW-A down.
    GW_A_FAIL=503 GW_A_REASON="Service Unavailable"
    start_gateways
    e2e_start_kamailio "$KPORT" "$XML"
    # GW-A refuses with 503: the call continues on the Local Backup Route (GW-B).
    e2e_call alice 5550123 || e2e_fail "call with GW-A answering 503 was not completed by GW-B"
    e2e_expect_invite gwA "^sip:\+14255550123@"
    e2e_expect_invite gwB "^sip:\+14255550123@"
    e2e_kamcmd callroute.gateways | tr -d '\n' | grep -Eq 'GW-A[^}]*state: up' \
        || e2e_fail "GW-A not up after one 503 without Retry-After"
    e2e_call alice 5550124 || e2e_fail "second local call not answered"
    [ "$(e2e_count gwA)" = 2 ] || e2e_fail "the second call did not try GW-A first again"
    e2e_call alice 5550125 || e2e_fail "third local call not answered"
    [ "$(e2e_count gwA)" = 3 ] || e2e_fail "the third call did not try GW-A"
    # three 503s in a row: GW-A is down for the hold-off, the next call goes to GW-B only
    e2e_call alice 5550126 || e2e_fail "fourth local call not answered"
    e2e_expect_invite gwB "^sip:\+14255550126@"
    [ "$(e2e_count gwA)" = 3 ] || e2e_fail "GW-A got $(e2e_count gwA) INVITEs while down"
    gws=$(e2e_kamcmd callroute.gateways) || e2e_fail "callroute.gateways failed"
    tr -d '\n' <<<"$gws" | grep -Eq 'GW-A[^}]*state: down[^}]*reason: failures in a row' \
        || { echo "$gws" >&2; e2e_fail "GW-A not reported down after 3 failures in a row"; }
    e2e_log "ok: a 503 fails over that call only; 3 in a row hold GW-A down"
    ;;

failover_timeout)
    # GW-A is not running at all: no reply within fr_timer (1 s here) counts as a failure.
    e2e_gateway gwB "$PORT_B" gw_ok.xml
    e2e_wait_ports "$PORT_B"
    e2e_start_kamailio "$KPORT" "$XML" -A CR_FR_TIMER=1000
    e2e_call alice 5550123 || e2e_fail "call with GW-A silent was not completed by GW-B"
    e2e_expect_invite gwB "^sip:\+14255550123@"
    grep -q "GW-A failed (408)" "$E2E_TMP/kamailio.log" || e2e_fail "GW-A timeout not reported as 408"
    e2e_kamcmd callroute.gateways | tr -d '\n' | grep -Eq 'GW-A[^}]*down' || e2e_fail "GW-A not down"
    ;;

no_failover)
    # A final answer from the far end (486 Busy Here) is not a gateway failure: it goes back
    # to the caller, GW-B is not tried and GW-A stays up.
    GW_A_FAIL=486 GW_A_REASON="Busy Here"
    start_gateways
    e2e_start_kamailio "$KPORT" "$XML"
    e2e_call alice 5550123 486 || e2e_fail "caller did not get GW-A's 486"
    e2e_expect_invite gwA "^sip:\+14255550123@"
    [ "$(e2e_count gwB)" = 0 ] || e2e_fail "486 failed over to GW-B"
    e2e_kamcmd callroute.gateways | tr -d '\n' | grep -Eq 'GW-A[^}]*down' && e2e_fail "GW-A marked down after 486"
    e2e_log "ok: 486 relayed to the caller, no failover"
    ;;

blocked)
    start_gateways
    e2e_start_kamailio "$KPORT" "$XML"
    # 1900 numbers match no route the caller's policy allows: refused, nothing sent out.
    e2e_call alice 19005551234 403 || e2e_fail "1900 call did not get 403"
    sleep 0.3
    total=$(( $(e2e_count gwA) + $(e2e_count gwB) + $(e2e_count gwC) ))
    [ "$total" = 0 ] || e2e_fail "a gateway received the blocked call"
    e2e_log "ok: 19005551234 refused with 403, no gateway reached"
    ;;

internal)
    start_gateways
    e2e_start_kamailio "$KPORT" "$XML"
    start_bob
    # 50101 is bob's extension: internal, delivered to his registered phone.
    e2e_call alice 50101 || e2e_fail "internal call to 50101 not answered"
    e2e_expect_invite bob "^sip:bob@127\.0\.0\.1:$PORT_U"
    total=$(( $(e2e_count gwA) + $(e2e_count gwB) + $(e2e_count gwC) ))
    [ "$total" = 0 ] || e2e_fail "an internal call reached a gateway"
    ;;

no_rgs)
    # The fixture declares no response groups: no match maker is forked (a reload does not add
    # response groups), the SIP workers open no response-group engine at start, and
    # callroute_rgs() still hands every call on (bob's extension rings his phone); the rgs RPCs
    # answer empty lists, and nothing is an error.
    e2e_start_kamailio "$KPORT" "$XML"
    start_bob
    grep -q "declares none: no match maker" "$E2E_TMP/kamailio.log" \
        || e2e_fail "no 'declares none: no match maker' in the log"
    psx=$(e2e_kamcmd core.psx) || e2e_fail "core.psx failed"
    grep -q "rgs match maker" <<<"$psx" && e2e_fail "a match maker was forked"
    # the user plans tick on Kamailio's slow timer: no process of the module's own
    grep -q "callroute user timer" <<<"$psx" && e2e_fail "a user timer process was forked"
    e2e_call alice 50101 || e2e_fail "internal call to 50101 not answered"
    e2e_expect_invite bob "^sip:bob@127\.0\.0\.1:$PORT_U"
    for m in queues agents; do
        out=$(e2e_kamcmd "callroute.rgs.$m" 2>&1) || { echo "$out" >&2; e2e_fail "callroute.rgs.$m failed"; }
        [ -z "$(tr -d '[:space:]' <<<"$out")" ] || { echo "$out" >&2; e2e_fail "callroute.rgs.$m not empty"; }
    done
    if out=$(e2e_kamcmd callroute.rgs.bench 10 1 2>&1); then
        echo "$out" >&2; e2e_fail "callroute.rgs.bench ran without a match maker"
    fi
    grep -q "declares none" <<<"$out" || { echo "$out" >&2; e2e_fail "the bench's refusal does not say why"; }
    if grep -a " ERROR: " "$E2E_TMP/kamailio.log" >&2; then
        e2e_fail "Kamailio logged an ERROR"
    fi
    e2e_log "ok: no match maker, the call rang bob, empty rgs lists, no ERROR logged"
    ;;

long_uri)
    # Request-URIs longer than the module's buffers are no workflow, no user and no number:
    # the example's routing goes on and decides, it does not answer 500. A 2,000-digit
    # number is not_applicable (404 here), as `callroute route` says; a number with a long
    # URI parameter is routed like the number.
    start_gateways
    E2E_HOLDOFF=600 e2e_start_kamailio "$KPORT" "$XML" -A 'CR_LOG_LEVEL="info"'
    e2e_call alice "$(printf '1%.0s' $(seq 1 2000))" 404 || e2e_fail "the 2,000-digit number was not refused with 404"
    grep -q "not_applicable (the dialed number is longer than 1023 bytes: not a phone number or URI)" "$E2E_TMP/kamailio.log" \
        || e2e_fail "no not_applicable line for the 2,000-digit number"
    e2e_call alice "5550123;x-long=$(printf 'x%.0s' $(seq 1 600))" \
        || { grep "^SIP/2.0 [2-6]" "$E2E_TMP/uac.msg" >&2; e2e_fail "the number with a long URI parameter was not routed"; }
    e2e_expect_invite gwA "^sip:\+14255550123@"
    c=$(e2e_kamcmd stats.get_statistics callroute: | tr -d '\r' | sed -n 's/^callroute:decisions_\(error\|not_applicable\|outbound\) = \([0-9]*\)$/\1=\2/p' | sort | paste -sd' ')
    [ "$c" = "error=0 not_applicable=1 outbound=1" ] || e2e_fail "decisions: $c"
    e2e_log "ok: long Request-URIs decided (not_applicable, outbound), no 500"
    ;;

inbound)
    # GW-A calls in from its own address (the sipp phone uses GW-A's port) to bob's number.
    e2e_gateway gwB "$PORT_B" gw_ok.xml
    e2e_start_kamailio "$KPORT" "$XML"
    start_bob
    E2E_UAC_PORT=$PORT_A e2e_call 14255550199 +14255550101 \
        || e2e_fail "inbound call from GW-A to +14255550101 not answered"
    e2e_expect_invite bob "^sip:bob@127\.0\.0\.1:$PORT_U"
    grep -a -q -i "^P-Asserted-Identity:" "$E2E_TMP/bob.msg" \
        && e2e_fail "an E.164 caller got a P-Asserted-Identity"
    # A caller from a private numbering plan (4 digits, no rule makes it E.164): the call
    # carries a P-Asserted-Identity with phone-context=enterprise.
    E2E_UAC_PORT=$PORT_A e2e_call 4321 +14255550101 \
        || e2e_fail "inbound call from a private number not answered"
    pai=$(grep -a -i "^P-Asserted-Identity:" "$E2E_TMP/bob.msg" | tail -n 1)
    [[ "$pai" =~ \<sip:4321\;phone-context=enterprise@contoso\.com\;user=phone\> ]] \
        || e2e_fail "bob: expected a P-Asserted-Identity for 4321, got '${pai:-nothing}'"
    e2e_log "ok: bob received $pai"
    # An unknown number from a gateway: 404.
    E2E_UAC_PORT=$PORT_A e2e_call 14255550199 +14255550999 404 \
        || e2e_fail "inbound call to an unknown number did not get 404"
    e2e_log "ok: inbound 404 for an unknown number"
    ;;

user_to_user)
    # alice calls bob by his SIP URI (not a number): not from a gateway (-2), not an outbound
    # number: bob's registered phone rings, and nothing of it is an error.
    e2e_start_kamailio "$KPORT" "$XML"
    start_bob
    e2e_call alice bob || e2e_fail "call from alice to sip:bob@contoso.com not answered"
    e2e_expect_invite bob "^sip:bob@127\.0\.0\.1:$PORT_U"
    # A gateway calling a name rather than a number: no such user (404), no error either.
    E2E_UAC_PORT=$PORT_A e2e_call 14255550199 bob 404 \
        || e2e_fail "a call from GW-A to sip:bob@contoso.com did not get 404"
    if grep -a " ERROR: " "$E2E_TMP/kamailio.log" >&2; then
        e2e_fail "Kamailio logged an ERROR for calls to a SIP URI"
    fi
    e2e_log "ok: user-to-user call by SIP URI delivered to bob's phone, no ERROR logged"
    ;;

pkg_stats)
    # The example loads kex: the usual memory RPCs answer.
    e2e_start_kamailio "$KPORT" "$XML"
    out=$(e2e_kamcmd pkg.stats) || { echo "$out" >&2; e2e_fail "kamcmd pkg.stats failed"; }
    grep -q "free" <<<"$out" || { echo "$out" >&2; e2e_fail "pkg.stats: no free memory figure"; }
    e2e_kamcmd core.shmmem >/dev/null || e2e_fail "kamcmd core.shmmem failed"
    e2e_log "ok: pkg.stats answers ($(grep -c free <<<"$out") processes)"
    ;;

myself)
    # A phone configured with the proxy's address: Request-URI sip:+14255550123@127.0.0.1:KPORT
    # routes like @contoso.com (Kamailio's own address is a supported domain); a foreign
    # domain still does not.
    start_gateways
    e2e_start_kamailio "$KPORT" "$XML"
    E2E_DOMAIN="127.0.0.1:$KPORT" e2e_call alice +14255550123 \
        || e2e_fail "call to sip:+14255550123@127.0.0.1:$KPORT not answered"
    e2e_expect_invite gwA "^sip:\+14255550123@127\.0\.0\.1:$PORT_A"
    E2E_DOMAIN="127.0.0.1:$KPORT" e2e_call alice 2065550123 \
        || e2e_fail "call to sip:2065550123@127.0.0.1:$KPORT not answered"
    e2e_expect_invite gwB "^sip:\+12065550123@"
    E2E_DOMAIN=example.net e2e_call alice 5550123 404 \
        || e2e_fail "a call to example.net was not refused as not applicable"
    e2e_log "ok: Request-URIs at Kamailio's own address routed, example.net not"
    ;;

kemi)
    # The module driven from a KEMI script (JavaScript, app_jsdt): examples/kamailio/
    # kamailio-kemi.cfg + callroute.js, with callroute_route_params(\$fu, \$rU).
    [ -f /usr/lib/x86_64-linux-gnu/kamailio/modules/app_jsdt.so ] \
        || e2e_fail "app_jsdt.so missing (apt-get install kamailio-extra-modules)"
    GW_A_FAIL=503 GW_A_REASON="Service Unavailable"
    start_gateways
    E2E_CFG=$E2E_TOP/examples/kamailio/kamailio-kemi.cfg
    e2e_start_kamailio "$KPORT" "$XML" -A "CR_KEMI_SCRIPT=\"$E2E_TOP/examples/kamailio/callroute.js\"" \
        -A 'CR_LOG_LEVEL="info"'
    start_bob
    # GW-A answers 503: callroute_next() in the script's failure route moves to GW-B
    e2e_call alice 5550123 || e2e_fail "KEMI: local call not completed through GW-B"
    e2e_expect_invite gwA "^sip:\+14255550123@"
    e2e_expect_invite gwB "^sip:\+14255550123@"
    grep -q "callroute (kemi): next attempt via GW-B" "$E2E_TMP/kamailio.log" \
        || e2e_fail "KEMI: \$callroute(gateway) after callroute_next() is not GW-B"
    e2e_call alice 2065550123 || e2e_fail "KEMI: long-distance call not answered"
    e2e_expect_invite gwB "^sip:\+12065550123@"
    e2e_call alice 50101 || e2e_fail "KEMI: internal call to bob not answered"
    e2e_expect_invite bob "^sip:bob@127\.0\.0\.1:$PORT_U"
    e2e_call alice 19005551234 403 || e2e_fail "KEMI: blocked call did not get 403"
    # the KEMI configuration takes the same defines as kamailio.cfg (log_level here)
    grep -q "sip:alice@contoso.com -> 5550123: outbound via GW-A" "$E2E_TMP/kamailio.log" \
        || e2e_fail "KEMI: no decision line at log_level info (CR_LOG_LEVEL not applied)"
    e2e_log "ok: KEMI script routed outbound (with failover), internal and blocked calls"
    ;;

kemi_wrong_route)
    # Kamailio checks a native script's route types, not a KEMI script's (nor those of a
    # route block a failure route calls): callroute_next() and callroute_user_next() called
    # from the request route (here right after t_newtran(), where no gateway has answered
    # yet) must do nothing and answer -3, not count "no answer" against the gateway (held
    # down) and move the call to the next one; callroute_user() in a failure route (a busy
    # callee's call sent on to a user) answers -3 saying where it belongs.
    [ -f /usr/lib/x86_64-linux-gnu/kamailio/modules/app_jsdt.so ] \
        || e2e_fail "app_jsdt.so missing (apt-get install kamailio-extra-modules)"
    GW_A_FAIL=486 GW_A_REASON="Busy Here"
    start_gateways
    js=$E2E_TMP/wrong_route.js
    sed -e '/callroute_route_params/,/if (rc == 1) {/ s|if (rc == 1) {|&\
        KSR.tm.t_newtran();\
        KSR.info("callroute (kemi): callroute_next() in the request route: " + KSR.callroute.callroute_next() + " " + KSR.pv.get("$ru") + "\\n");|' \
        -e '/KSR.callroute.callroute_user();/,/if (rc == 1) {/ s|if (rc == 1) {|&\
        KSR.info("callroute (kemi): callroute_user_next() in the request route: " + KSR.callroute.callroute_user_next() + "\\n");|' \
        -e '/^function ksr_failure_gateway() {/a\
    KSR.pv.sets("$ru", "sip:bob@contoso.com");\
    KSR.info("callroute (kemi): callroute_user() in a failure route: " + KSR.callroute.callroute_user() + "\\n");' \
        "$E2E_TOP/examples/kamailio/callroute.js" >"$js"
    [ "$(grep -c 'in the request route\|in a failure route' "$js")" = 3 ] || e2e_fail "the test script was not built"
    E2E_CFG=$E2E_TOP/examples/kamailio/kamailio-kemi.cfg
    e2e_start_kamailio "$KPORT" "$XML" -A "CR_KEMI_SCRIPT=\"$js\""
    start_bob
    # GW-A answers 486: the far end's answer, relayed to the caller
    e2e_call alice 5550123 486 || e2e_fail "KEMI: the caller did not get GW-A's 486"
    e2e_expect_invite gwA "^sip:\+14255550123@"
    [ "$(e2e_count gwB)" = 0 ] || e2e_fail "callroute_next() in the request route moved the call to GW-B"
    grep -q "callroute (kemi): callroute_next() in the request route: -3 sip:+14255550123@127.0.0.1:$PORT_A" "$E2E_TMP/kamailio.log" \
        || { grep "in the request route" "$E2E_TMP/kamailio.log" >&2; e2e_fail "callroute_next() in the request route did not answer -3 leaving the Request-URI"; }
    grep -q "callroute_next() belongs in a failure_route, not in a request_route" "$E2E_TMP/kamailio.log" \
        || e2e_fail "no log line saying where callroute_next() belongs"
    gw_state_is GW-A "state: up" || e2e_fail "GW-A is not up after callroute_next() in the request route"
    e2e_kamcmd callroute.gateways | tr -d '\n' | grep -Eq "name: GW-A[^}]*failures: 0" \
        || { e2e_kamcmd callroute.gateways >&2; e2e_fail "a failure of GW-A was counted"; }
    grep -q "callroute (kemi): callroute_user() in a failure route: -3" "$E2E_TMP/kamailio.log" \
        && grep -q "callroute_user() belongs in a request_route (it creates the call's transaction), not in a failure_route" "$E2E_TMP/kamailio.log" \
        || { grep "in a failure route\|belongs" "$E2E_TMP/kamailio.log" >&2; e2e_fail "callroute_user() in a failure route did not answer -3 saying where it belongs"; }
    [ "$(e2e_count bob)" = 0 ] || e2e_fail "bob was rung from the failure route"
    e2e_call alice 50101 || e2e_fail "KEMI: internal call to bob not answered"
    e2e_expect_invite bob "^sip:bob@127\.0\.0\.1:$PORT_U"
    grep -q "callroute (kemi): callroute_user_next() in the request route: -3" "$E2E_TMP/kamailio.log" \
        || { grep "in the request route" "$E2E_TMP/kamailio.log" >&2; e2e_fail "callroute_user_next() in the request route did not answer -3"; }
    e2e_log "ok: callroute_next()/callroute_user_next() outside a failure route and callroute_user() in one answer -3 and change nothing"
    ;;

include_dir)
    # The configuration includes a file from another directory: refused at startup (the
    # error names it) until modparam include_dir allows that directory.
    mkdir -p "$E2E_TMP/shared" "$E2E_TMP/conf"
    printf '<callroute xmlns="urn:callroute:config:1"><phoneUsages><usage name="Shared"/></phoneUsages></callroute>\n' \
        >"$E2E_TMP/shared/usages.xml"
    sed "s#</domains>#</domains><include href=\"$E2E_TMP/shared/usages.xml\"/>#" "$XML" >"$E2E_TMP/conf/top.xml"
    grep -q 'shared/usages.xml' "$E2E_TMP/conf/top.xml" || e2e_fail "fixture has no </domains>"
    if "$KAMAILIO" -DD -E -f "$E2E_CFG" -Y "$E2E_TMP" -P "$E2E_TMP/k0.pid" -w "$E2E_TMP" -m 64 \
        -A "LISTEN=udp:127.0.0.1:$KPORT" -A "CR_MODULE=\"$CR_MODULE\"" \
        -A "CR_LIBRARY=\"$CR_LIBRARY\"" -A "CR_CONFIG=\"$E2E_TMP/conf/top.xml\"" \
        -A "CTL_SOCKET=\"unix:$E2E_TMP/k0_ctl\"" >"$E2E_TMP/k0.log" 2>&1 & then
        k0=$!
        E2E_PIDS+=("$k0")
        for _ in $(seq 1 100); do kill -0 "$k0" 2>/dev/null || break; sleep 0.1; done
        ! kill -0 "$k0" 2>/dev/null || e2e_fail "kamailio started with an include outside the allowed directories"
    fi
    grep -q 'shared/usages.xml' "$E2E_TMP/k0.log" || { tail "$E2E_TMP/k0.log" >&2; e2e_fail "the startup error does not name the include"; }
    e2e_start_kamailio "$KPORT" "$E2E_TMP/conf/top.xml" -A "CR_INCLUDE_DIR=\"$E2E_TMP/shared\""
    out=$(e2e_kamcmd callroute.route sip:alice@contoso.com s:2065550123) || e2e_fail "callroute.route failed"
    grep -q 'decision: outbound' <<<"$out" || { echo "$out" >&2; e2e_fail "no outbound decision with include_dir"; }
    e2e_log "ok: an include outside the configuration's directory is refused, and loads with include_dir"
    ;;

rpc_route)
    e2e_start_kamailio "$KPORT" "$XML"
    out=$(e2e_kamcmd callroute.route sip:alice@contoso.com s:2065550123) || e2e_fail "callroute.route failed"
    # a structure, not JSON inside a string
    grep -q 'decision: outbound' <<<"$out" && grep -q 'gateway: GW-B' <<<"$out" \
        && ! grep -q '{"decision"' <<<"$out" \
        || { echo "$out" >&2; e2e_fail "callroute.route: expected outbound via GW-B as a structure"; }
    e2e_log "ok: callroute.route -> $(tr '\n\t' '  ' <<<"$out")"
    # a number kamcmd sent as an integer is refused, saying to write s:
    if out=$(e2e_kamcmd callroute.route sip:alice@contoso.com 2065550123 2>&1); then
        echo "$out" >&2; e2e_fail "callroute.route accepted an integer number"
    fi
    grep -q 's:' <<<"$out" || { echo "$out" >&2; e2e_fail "the refusal does not mention s:"; }
    e2e_log "ok: an integer number is refused: $out"
    ;;

reload_broken)
    start_gateways
    e2e_start_kamailio "$KPORT" "$XML"
    # Break the file (an unknown gateway in a route) and ask for a reload: refused with the
    # library's message, and calls keep being routed with the running configuration.
    sed -i 's|<usage>Long-Distance</usage><gateway>GW-B</gateway>|<usage>Long-Distance</usage><gateway>No-Such-GW</gateway>|' "$XML"
    if out=$(e2e_kamcmd callroute.reload 2>&1); then
        echo "$out" >&2
        e2e_fail "callroute.reload accepted a broken file"
    fi
    grep -qi "error\|refused" <<<"$out" || { echo "$out" >&2; e2e_fail "reload error not reported"; }
    e2e_log "ok: reload refused: $(head -c 300 <<<"$out" | tr '\n' ' ')"
    # Also a file that is not XML at all.
    echo "<callroute><routes><route" > "$XML"
    e2e_kamcmd callroute.reload >/dev/null 2>&1 && e2e_fail "callroute.reload accepted a truncated file"
    e2e_call alice 2065550123 || e2e_fail "routing stopped after a refused reload"
    e2e_expect_invite gwB "^sip:\+12065550123@"
    ;;

reload_many_errors)
    # A file with many errors under a long path: the reply still says refused (Kamailio's
    # binrpc drops a fault text of 255 bytes or more, and kamcmd then exits 0 silently).
    long="$E2E_TMP/$(printf 'a-rather-long-directory-name-%02d/' 1 2 3 4)"
    mkdir -p "$long"
    cp "$XML" "$long/callroute.xml"
    e2e_start_kamailio "$KPORT" "$long/callroute.xml"
    sed -i -e 's|<gateway>GW-B</gateway>|<gateway>No-Such-GW-B</gateway>|g' \
           -e 's|<gateway>GW-A</gateway>|<gateway>No-Such-GW-A</gateway>|g' \
           -e 's|<gateway>GW-C</gateway>|<gateway>No-Such-GW-C</gateway>|g' "$long/callroute.xml"
    n=$("$(dirname "$CR_LIBRARY")/callroute" check --config "$long/callroute.xml" 2>&1 | grep -c ': error: ' || true)
    if out=$(e2e_kamcmd callroute.reload 2>&1); then
        echo "$out" >&2
        e2e_fail "callroute.reload on a file with $n errors exited 0"
    fi
    grep -q "reload refused ($n errors" <<<"$out" || { echo "$out" >&2; e2e_fail "the reply does not say refused with the count ($n)"; }
    e2e_log "ok: $out"
    # the reason, not only the path: a file that is gone is named by its base name in the
    # reply ("cannot read 'callroute.xml': No such file or directory"), the long directory
    # would push the reason past what binrpc carries
    mv "$long/callroute.xml" "$long/callroute.xml.gone"
    if out=$(e2e_kamcmd callroute.reload 2>&1); then
        echo "$out" >&2
        e2e_fail "callroute.reload of a missing file exited 0"
    fi
    grep -q "reload refused: callroute.xml: error: cannot read 'callroute.xml': No such file or directory" <<<"$out" \
        || { echo "$out" >&2; e2e_fail "the reply does not say why the missing file was refused"; }
    e2e_log "ok: $out"
    ;;

reload_changed)
    start_gateways
    e2e_start_kamailio "$KPORT" "$XML"
    e2e_call alice 2065550123 || e2e_fail "long-distance call not answered"
    e2e_expect_invite gwB "^sip:\+12065550123@"
    # Move long distance to GW-C (removePlus) and reload: the next call uses it, in
    # whichever worker process takes it.
    sed -i 's|<usage>Long-Distance</usage><gateway>GW-B</gateway>|<usage>Long-Distance</usage><gateway>GW-C</gateway>|' "$XML"
    out=$(e2e_kamcmd callroute.reload 2>&1) || { echo "$out" >&2; e2e_fail "reload of a valid file failed"; }
    for n in 2065550124 2065550125 2065550126; do
        e2e_call alice "$n" || e2e_fail "long-distance call $n after reload not answered"
        e2e_expect_invite gwC "^sip:1${n}@"
    done
    [ "$(e2e_count gwB)" = 1 ] || e2e_fail "GW-B still received calls after the reload"
    # every process lets the previous plan image go (a process that does not route holds
    # none): within 5 s no Kamailio process maps an image that was unlinked
    main=$(cat "$E2E_TMP/kamailio.pid")
    for _ in $(seq 1 50); do
        stale=$(for p in "$main" $(pgrep -P "$main"); do
            grep -l 'callroute-[0-9]*-[0-9]*\.plan (deleted)' "/proc/$p/maps" 2>/dev/null || true
        done)
        [ -z "$stale" ] && break
        sleep 0.1
    done
    [ -z "$stale" ] || e2e_fail "processes still map the image replaced by the reload: $stale"
    ;;

image_rewritten)
    # Kamailio starts on a plan image: the main process reads the admin's file in place under
    # a read lease (nothing copied at start), then copies it into the runtime directory and
    # moves every process onto the copy. The admin overwrites the file in place right after
    # the start (cp other.plan routes.plan, as an admin would): the writer may wait for the
    # lease, calls placed meanwhile and after are routed by the original plan (GW-B), nothing
    # crashes, no Kamailio process maps the admin's file once the writer is through, and a
    # callroute.reload afterwards picks up the new file (GW-C).
    CLI=${CR_CLI:-$(dirname "$CR_LIBRARY")/callroute}
    start_gateways
    export CALLROUTE_RUNTIME_DIR=$E2E_TMP/run
    mkdir -p "$CALLROUTE_RUNTIME_DIR"
    "$CLI" compile --config "$XML" -o "$E2E_TMP/routes.plan" >/dev/null || e2e_fail "compile"
    sed 's|<usage>Long-Distance</usage><gateway>GW-B</gateway>|<usage>Long-Distance</usage><gateway>GW-C</gateway>|' \
        "$XML" >"$E2E_TMP/other.xml"
    "$CLI" compile --config "$E2E_TMP/other.xml" -o "$E2E_TMP/other.plan" >/dev/null || e2e_fail "compile other"
    # waited for with tests/bench/rpc_ready when given (what start-up measurements use)
    t_start=$(date +%s.%N)
    E2E_DEBUG=2 E2E_READY_PROBE=${CR_RPC_READY:-} e2e_start_kamailio "$KPORT" "$E2E_TMP/routes.plan"
    # the module read the image while Kamailio initialised its other modules (from the
    # "config" parameter on), and mod_init's open took that read instead of reading it again
    ahead=$(grep -o "read while the host started: .*" "$E2E_TMP/kamailio.log" | head -1)
    [ -n "$ahead" ] || e2e_fail "mod_init did not take the image read ahead"
    if [ -n "${CR_RPC_READY:-}" ]; then
        [[ "${E2E_READY_AT:-}" =~ ^[0-9]+\.[0-9]{9}$ ]] || e2e_fail "rpc_ready gave no time: '${E2E_READY_AT:-}'"
        e2e_log "kamailio answered RPC $(awk -v a="$t_start" -v b="$E2E_READY_AT" 'BEGIN {printf "%.1f", (b - a) * 1000}') ms after it was started"
    fi
    main=$(cat "$E2E_TMP/kamailio.pid")
    procs=$(pgrep -P "$main" | wc -l)
    t0=$(date +%s.%N)
    ( cp "$E2E_TMP/other.plan" "$E2E_TMP/routes.plan" && date +%s.%N >"$E2E_TMP/cp.done" ) &
    cp_pid=$!
    for n in 2065550123 2065550124; do
        e2e_call alice "$n" || e2e_fail "call $n while the image is rewritten not answered"
        e2e_expect_invite gwB "^sip:\+1${n}@"
    done
    wait "$cp_pid" || e2e_fail "the admin's cp failed"
    waited=$(awk -v a="$t0" -v b="$(cat "$E2E_TMP/cp.done")" 'BEGIN {printf "%.2f", b - a}')
    cmp -s "$E2E_TMP/other.plan" "$E2E_TMP/routes.plan" || e2e_fail "the admin's file was not rewritten"
    mapping=$(for p in "$main" $(pgrep -P "$main"); do
        grep -l "$E2E_TMP/routes.plan" "/proc/$p/maps" 2>/dev/null || true
    done)
    [ -z "$mapping" ] || e2e_fail "processes still map the admin's file after the writer: $mapping"
    ls "$CALLROUTE_RUNTIME_DIR"/callroute-*.plan >/dev/null 2>&1 || e2e_fail "no copy published"
    e2e_call alice 2065550125 || e2e_fail "call after the rewrite not answered"
    e2e_expect_invite gwB "^sip:\+12065550125@"
    kill -0 "$main" 2>/dev/null || e2e_fail "kamailio died"
    [ "$(pgrep -P "$main" | wc -l)" = "$procs" ] || e2e_fail "a Kamailio process died"
    out=$(e2e_kamcmd callroute.reload 2>&1) || { echo "$out" >&2; e2e_fail "reload of the new image failed"; }
    for n in 2065550126 2065550127; do
        e2e_call alice "$n" || e2e_fail "call $n after reload not answered"
        e2e_expect_invite gwC "^sip:1${n}@"
    done
    [ "$(e2e_count gwB)" = 3 ] || e2e_fail "GW-B got $(e2e_count gwB) calls, not 3"
    e2e_log "ok: the writer waited $waited s; calls stayed on the original plan until the reload; $ahead"
    ;;

user_simring)
    # sam has simultaneous ring to +14255550199 (Local Route: GW-A): an INVITE to sam rings
    # his registered phone and goes out through GW-A at the same time. GW-A answers: sam's
    # phone gets a CANCEL.
    use_users_fixture
    start_gateways
    e2e_start_kamailio "$KPORT" "$XML"
    start_phone sam uas_ring.xml
    e2e_call alice 50110 || e2e_fail "call to sam not answered"
    e2e_expect_invite sam "^sip:sam@127\.0\.0\.1:$PHONE_PORT_sam"
    e2e_expect_invite gwA "^sip:\+14255550199@127\.0\.0\.1:$PORT_A"
    d=$(e2e_delay sam gwA) || e2e_fail "no INVITE times"
    $E2E_PY -c "import sys; sys.exit(0 if abs($d) < 0.5 else 1)" \
        || e2e_fail "sam's phone and GW-A did not ring together ($d s apart)"
    e2e_got sam CANCEL || e2e_fail "sam's phone was not cancelled when GW-A answered"
    [ "$(e2e_count gwB)" = 0 ] || e2e_fail "GW-B got the simultaneous-ring leg while GW-A was up"
    e2e_log "ok: sam's phone and GW-A rang $d s apart; the phone was cancelled"
    ;;

user_timer_race)
    # The user-plan timer process starts what is due of every call in the module's table. A
    # worker that put a new call there and had not yet claimed its first step (a preemption on
    # a loaded machine; here CALLROUTE_TEST_USER_PAUSE_MS holds it there for three timer
    # ticks) used to find the timer had started it, take the call as having nobody to ring
    # and refuse it with 480 while the timer's branches rang. The worker now claims the first
    # step before the call enters the table: every call is answered, each target rings once.
    use_users_fixture
    start_gateways
    CALLROUTE_TEST_USER_PAUSE_MS=300 e2e_start_kamailio "$KPORT" "$XML"
    start_phone sam uas_ring.xml
    for n in 1 2 3; do
        e2e_call alice 50110 || e2e_fail "call $n to sam not answered"
    done
    [ "$(e2e_count sam)" = 3 ] || e2e_fail "sam's phone rang $(e2e_count sam) times for 3 calls"
    [ "$(e2e_count gwA)" = 3 ] || e2e_fail "GW-A got $(e2e_count gwA) INVITEs for 3 calls"
    grep -q "nobody to ring" "$E2E_TMP/kamailio.log" && e2e_fail "a call was taken as having nobody to ring"
    e2e_log "ok: 3 calls with the worker held past the timer's ticks: each answered, each target rang once"
    ;;

user_failover_race)
    # walt never answers; after 2 s the timer rings his no-answer number through GW-A and
    # cancels his phone, which ends its ringing (487) 150 ms later. GW-A refuses at once
    # (503) and asks for the number's next alternative, GW-B, which the timer fills and then
    # (CALLROUTE_TEST_FAILOVER_PAUSE_MS) holds for 300 ms before adding it to the transaction.
    # Meanwhile walt's 487 closes the last open branch and the failure_route runs: it used to
    # find GW-B taken by the timer and nothing left to ring, so the caller got walt's 487 and
    # GW-B's INVITE came after. The timer's rows now count as not started until its branches are
    # in the transaction: the failure_route rings GW-B itself, the timer's copy is not added.
    use_users_fixture
    GW_A_FAIL=503 GW_A_REASON="Service Unavailable"
    start_gateways
    CALLROUTE_TEST_FAILOVER_PAUSE_MS=300 e2e_start_kamailio "$KPORT" "$XML"
    start_phone walt uas_ring_slow_cancel.xml
    e2e_call alice 50140 || e2e_fail "call to walt not answered by the forwarding number through GW-B"
    e2e_expect_invite gwA "^sip:\+14255550177@127\.0\.0\.1:$PORT_A"
    e2e_expect_invite gwB "^sip:\+14255550177@127\.0\.0\.1:$PORT_B"
    [ "$(e2e_count gwB)" = 1 ] || e2e_fail "GW-B got $(e2e_count gwB) INVITEs for one call"
    grep -Eq "user walt: [0-9]+ from every branch: next step" "$E2E_TMP/kamailio.log" \
        || e2e_fail "the failure_route did not start GW-B"
    e2e_log "ok: a failover the timer held was started by the failure_route, GW-B rang once"
    ;;

user_simring_race)
    # The race behind issue 10's "sam's phone was not cancelled": sam's phone answers every
    # INVITE with 180 at once and GW-A (his simultaneous-ring target) answers with 200 at
    # once, so on many calls the 180 and the 200 reach two Kamailio workers together. tm 5.6
    # then can drop the 180 unrecorded and give up on the phone's CANCEL; the module records
    # provisional replies itself and cancels such a branch. Every call (E2E_RACE_CALLS, 150)
    # must be answered and every ringing phone must get its CANCEL.
    use_users_fixture
    start_gateways
    e2e_start_kamailio "$KPORT" "$XML"
    start_phone sam uas_ring.xml
    calls=${E2E_RACE_CALLS:-150}
    timeout 120 "$SIPP" "127.0.0.1:$KAM_PORT" -sf "$E2E_DIR/scenarios/uac.xml" -s 50110 \
        -key caller alice -key domain contoso.com -m "$calls" -r 25 -l 50 \
        -i 127.0.0.1 -p "$(e2e_ports 1)" -t u1 -nostdin -timeout 100s -timeout_error \
        -trace_err -error_file "$E2E_TMP/uac.err" >"$E2E_TMP/uac.out" 2>&1 </dev/null \
        || e2e_fail "not every call to sam was answered"
    # Call-IDs of the INVITEs and the CANCELs sam's phone received
    race_ids() {
        awk -v m="$1" '/^(UDP|TCP) message received/ { rcv = 1; meth = ""; next }
             /^(UDP|TCP) message sent/ { rcv = 0; next }
             rcv && meth == "" && /^[A-Z]+ / { meth = $1; next }
             rcv && meth == m && tolower($0) ~ /^call-id:/ { print $2; rcv = 0 }' \
            "$E2E_TMP/sam.msg" | tr -d '\r' | sort -u
    }
    for _ in $(seq 1 150); do
        [ "$(race_ids INVITE | wc -l)" = "$calls" ] &&
            [ -z "$(comm -23 <(race_ids INVITE) <(race_ids CANCEL))" ] && break
        sleep 0.1
    done
    rang=$(race_ids INVITE | wc -l)
    missed=$(comm -23 <(race_ids INVITE) <(race_ids CANCEL))
    [ "$rang" = "$calls" ] || e2e_fail "sam's phone rang on $rang of $calls calls"
    [ -z "$missed" ] || e2e_fail "sam's phone was not cancelled on $(wc -l <<<"$missed") of $calls calls: $(head -3 <<<"$missed" | tr '\n' ' ')"
    forced=$(grep -c "which rang while the call ended" "$E2E_TMP/kamailio.log" || true)
    e2e_log "ok: $calls calls: the phone rang and was cancelled on each ($forced CANCELs only the module's record of the 180 made possible)"
    ;;

user_simring_silent)
    # sam's phone's replies to the INVITE are lost (UDP may lose them, and tm 5.6 drops a 1xx
    # that meets its own cancel of the branch before any callback sees it): GW-A answers, tm
    # stops the INVITE's retransmissions, so no later 1xx will come to trigger a CANCEL. A
    # second after the call ended the module warns and sends the CANCEL anyway (the INVITE
    # went out before the call ended: the CANCEL cannot overtake it).
    use_users_fixture
    start_gateways
    e2e_start_kamailio "$KPORT" "$XML"
    start_phone sam uas_silent.xml
    e2e_call alice 50110 || e2e_fail "call to sam not answered"
    e2e_expect_invite sam "^sip:sam@127\.0\.0\.1:$PHONE_PORT_sam"
    e2e_got sam CANCEL || e2e_fail "sam's silent phone was not cancelled after GW-A answered"
    grep -q "is still open [0-9]* ms after it was to be cancelled: last reply 0, provisional reply seen by the module no, .*: sending its CANCEL now" \
        "$E2E_TMP/kamailio.log" || e2e_fail "no warning for the branch cancelled late"
    # the phone answers the CANCEL with 200 and the INVITE with 487: tm must ACK the 487
    e2e_got sam ACK || e2e_fail "sam's 487 was not acknowledged"
    e2e_log "ok: sam's silent phone got its CANCEL after GW-A answered; the module said so"
    ;;

user_pbx_fork)
    # PBX coexistence: pat (pbxIntegration) is called from a SIP endpoint: pat's registered
    # phone rings and the call forks to the PBX (GW-A, the gateway of the route for pat's
    # line) at once. The PBX answers: pat's phone gets a CANCEL.
    use_users_fixture
    start_gateways
    e2e_start_kamailio "$KPORT" "$XML"
    start_phone pat uas_ring.xml
    e2e_call alice 50160 || e2e_fail "call to pat not answered by the PBX"
    e2e_expect_invite pat "^sip:pat@127\.0\.0\.1:$PHONE_PORT_pat"
    e2e_expect_invite gwA "^sip:\+14255550160@127\.0\.0\.1:$PORT_A"
    e2e_got pat CANCEL || e2e_fail "pat's phone was not cancelled when the PBX answered"
    [ "$(e2e_count gwB)" = 0 ] || e2e_fail "GW-B got the PBX fork while GW-A was up"
    e2e_log "ok: pat's phone and the PBX rang; the phone was cancelled"
    ;;

user_pbx_from_pbx)
    # A call that arrives from the PBX (the caller uses GW-A's address) to pat's number rings
    # only pat's SIP phone: nothing is forked back to the PBX or to the backup gateway.
    use_users_fixture
    e2e_gateway gwB "$PORT_B" gw_ok.xml
    e2e_wait_ports "$PORT_B"
    e2e_start_kamailio "$KPORT" "$XML"
    start_phone pat gw_ok.xml
    E2E_UAC_PORT=$PORT_A e2e_call 14255550199 +14255550160 \
        || e2e_fail "call from the PBX to pat not answered by pat's phone"
    e2e_expect_invite pat "^sip:pat@127\.0\.0\.1:$PHONE_PORT_pat"
    grep -a -q -E "^INVITE " <(awk '/message received/{r=1;next} /message sent/{r=0;next} r' \
        "$E2E_TMP/uac.msg") && e2e_fail "the PBX got the call back"
    [ "$(e2e_count gwB)" = 0 ] || e2e_fail "the call from the PBX was forked to GW-B"
    e2e_log "ok: a call from the PBX rang only pat's phone"
    ;;

user_simring_failover)
    # GW-A refuses the simultaneous-ring leg with 503: the leg goes out through its next
    # attempt (GW-B), while sam's phone keeps ringing. A 503 without Retry-After fails over
    # that call only (the failure classes of callroute_next()): GW-A stays up.
    use_users_fixture
    GW_A_FAIL=503 GW_A_REASON="Service Unavailable"
    start_gateways
    e2e_start_kamailio "$KPORT" "$XML"
    start_phone sam uas_ring.xml
    e2e_call alice 50110 || e2e_fail "call to sam not answered through GW-B"
    e2e_expect_invite gwA "^sip:\+14255550199@127\.0\.0\.1:$PORT_A"
    e2e_expect_invite gwB "^sip:\+14255550199@127\.0\.0\.1:$PORT_B"
    e2e_got sam CANCEL || e2e_fail "sam's phone was not cancelled when GW-B answered"
    [ "$(e2e_received sam | wc -l)" = 1 ] || e2e_fail "sam's phone rang more than once"
    state=$(e2e_kamcmd callroute.gateways | tr -d '\n')
    grep -Eq 'GW-A[^}]*down' <<<"$state" && e2e_fail "GW-A held down after one 503 without Retry-After"
    grep -q "gateway GW-A failed (503): stays up (1 of 3 in a row)" "$E2E_TMP/kamailio.log" \
        || e2e_fail "no log line for GW-A's failure"
    grep -q "failed (503) via GW-A: next alternative via GW-B wanted" "$E2E_TMP/kamailio.log" \
        || e2e_fail "no log line for the leg's next alternative"
    e2e_log "ok: simultaneous-ring leg failed over from GW-A (503) to GW-B; GW-A stays up"
    ;;

user_team_call)
    # tina's team (carol) rings 2 s after tina's own phone, which never answers; carol does.
    use_users_fixture
    e2e_start_kamailio "$KPORT" "$XML"
    start_phone tina uas_ring.xml
    start_phone carol gw_ok.xml
    e2e_call alice 50120 || e2e_fail "call to tina not answered by carol"
    e2e_expect_invite tina "^sip:tina@127\.0\.0\.1:$PHONE_PORT_tina"
    e2e_expect_invite carol "^sip:carol@127\.0\.0\.1:$PHONE_PORT_carol"
    d=$(e2e_delay tina carol) || e2e_fail "no INVITE times"
    # the timer ticks every 100 ms: 2 s after the call arrived, ~2.0-2.1 s after tina's INVITE
    # (each sipp stamps a message when it reads it: on a busy machine tina's stamp may come
    # a few tens of ms late, hence 1.9)
    $E2E_PY -c "import sys; sys.exit(0 if 1.9 <= $d <= 3.0 else 1)" \
        || e2e_fail "carol rang $d s after tina (team-call delay 2 s)"
    e2e_got tina CANCEL || e2e_fail "tina's phone was not cancelled when carol answered"
    e2e_log "ok: team member carol rang $d s after tina"
    ;;

user_no_answer)
    # vic never answers: after 3 s the call is forwarded to his voicemail (a SIP URI) and his
    # phone is cancelled.
    use_users_fixture
    e2e_gateway vm "$PORT_D" gw_ok.xml
    e2e_wait_ports "$PORT_D"
    e2e_start_kamailio "$KPORT" "$XML"
    start_phone vic uas_ring.xml
    e2e_call alice 50130 || e2e_fail "call to vic not answered by voicemail"
    e2e_expect_invite vic "^sip:vic@127\.0\.0\.1:$PHONE_PORT_vic"
    e2e_expect_invite vm "^sip:vic-vm@127\.0\.0\.1:$PORT_D"
    d=$(e2e_delay vic vm) || e2e_fail "no INVITE times"
    $E2E_PY -c "import sys; sys.exit(0 if 2.9 <= $d <= 4.0 else 1)" \
        || e2e_fail "voicemail rang $d s after vic's phone (no answer after 3 s)"
    e2e_got vic CANCEL || e2e_fail "vic's phone was not cancelled"
    e2e_log "ok: unanswered call reached voicemail $d s after vic's phone rang"
    ;;

user_no_answer_silent)
    # vic's phone's replies are lost (see user_simring_silent): after 3 s the no-answer step
    # rings his voicemail, which rings 4 s before it answers, and cancels the phone's branch.
    # With no 1xx, tm holds that CANCEL back (RFC 3261 9.1) and has stopped the INVITE's
    # retransmissions, so no 1xx will come: a second later the module sends the CANCEL while
    # the call still rings voicemail (logged as the no-answer step's), not after it ends.
    # fr_timer 15 s: with the example's 5 s, tm would give the phone's branch up (a 408 of
    # its own, no CANCEL) 5 s after its INVITE, too close to the 4 s this case looks for.
    use_users_fixture
    e2e_gateway vm "$PORT_D" gw_ring_answer_late.xml
    e2e_wait_ports "$PORT_D"
    e2e_start_kamailio "$KPORT" "$XML" -A "CR_FR_TIMER=15000"
    start_phone vic uas_silent.xml
    e2e_call alice 50130 || e2e_fail "call to vic not answered by voicemail"
    e2e_expect_invite vic "^sip:vic@127\.0\.0\.1:$PHONE_PORT_vic"
    e2e_expect_invite vm "^sip:vic-vm@127\.0\.0\.1:$PORT_D"
    e2e_got vic CANCEL || e2e_fail "vic's silent phone was not cancelled"
    grep -q "user plan, no answer: call \[[0-9:]*\]: branch 0 .* is still open [0-9]* ms after it was to be cancelled: last reply 0, provisional reply seen by the module no, .*: sending its CANCEL now" \
        "$E2E_TMP/kamailio.log" || e2e_fail "no CANCEL from the no-answer step's late sweep"
    e2e_got vic ACK || e2e_fail "vic's 487 was not acknowledged"
    e2e_log "ok: vic's silent phone got its CANCEL while voicemail rang"
    ;;

user_no_answer_pstn)
    # walt never answers: after 2 s the call is forwarded to +14255550177; GW-A refuses with
    # 503, the forwarded leg goes out through GW-B, which answers.
    use_users_fixture
    GW_A_FAIL=503 GW_A_REASON="Service Unavailable"
    start_gateways
    e2e_start_kamailio "$KPORT" "$XML"
    start_phone walt uas_ring.xml
    e2e_call alice 50140 || e2e_fail "call to walt not answered by the forwarding number"
    e2e_expect_invite gwA "^sip:\+14255550177@127\.0\.0\.1:$PORT_A"
    e2e_expect_invite gwB "^sip:\+14255550177@127\.0\.0\.1:$PORT_B"
    d=$(e2e_delay walt gwA) || e2e_fail "no INVITE times"
    $E2E_PY -c "import sys; sys.exit(0 if 1.9 <= $d <= 3.0 else 1)" \
        || e2e_fail "forwarding rang $d s after walt's phone (no answer after 2 s)"
    e2e_got walt CANCEL || e2e_fail "walt's phone was not cancelled"
    e2e_log "ok: no-answer forwarding to a number after $d s, GW-A 503 -> GW-B"
    ;;

user_unregistered)
    # vic has no registered phone: his voicemail answers at once, without waiting 3 s.
    # alice (no phone, nothing else to ring): 480.
    use_users_fixture
    e2e_gateway vm "$PORT_D" gw_ok.xml
    e2e_wait_ports "$PORT_D"
    e2e_start_kamailio "$KPORT" "$XML"
    e2e_call alice 50130 || e2e_fail "call to an unregistered vic did not reach voicemail"
    e2e_expect_invite vm "^sip:vic-vm@127\.0\.0\.1:$PORT_D"
    # from the caller's INVITE (not from starting sipp, which takes its time on a busy machine)
    d=$($E2E_PY -c "print('%.3f' % ($(e2e_invite_time vm) - $(e2e_invite_time uac sent)))")
    $E2E_PY -c "import sys; sys.exit(0 if $d < 2.0 else 1)" || e2e_fail "voicemail after $d s"
    e2e_call sam 50100 480 || e2e_fail "call to an unregistered alice did not get 480"
    e2e_log "ok: unregistered user -> voicemail after $d s; nobody to ring -> 480"
    ;;

user_busy)
    # tina's phone is busy (486) at once: the team call does not wait for its 2 s delay
    # (failure_route: callroute_user_next() starts the next step), carol answers.
    use_users_fixture
    e2e_start_kamailio "$KPORT" "$XML"
    sed -e "s/@CODE@/486/g" -e "s/@REASON@/Busy Here/g" "$E2E_DIR/scenarios/gw_fail.xml" \
        > "$E2E_TMP/busy.xml"
    start_phone tina "$E2E_TMP/busy.xml"
    start_phone carol gw_ok.xml
    e2e_call alice 50120 || e2e_fail "call to a busy tina not answered by carol"
    e2e_expect_invite carol "^sip:carol@127\.0\.0\.1:$PHONE_PORT_carol"
    d=$(e2e_delay tina carol) || e2e_fail "no INVITE times"
    $E2E_PY -c "import sys; sys.exit(0 if $d < 1.0 else 1)" \
        || e2e_fail "carol rang $d s after a busy tina (expected at once)"
    e2e_log "ok: tina busy: carol rang $d s later"
    ;;

user_caller_cancel)
    # The caller hangs up after 1 s of ringing: vic's phone is cancelled and the no-answer
    # step (voicemail after 3 s) never starts.
    use_users_fixture
    e2e_gateway vm "$PORT_D" gw_ok.xml
    e2e_wait_ports "$PORT_D"
    e2e_start_kamailio "$KPORT" "$XML"
    start_phone vic uas_ring.xml
    port=$(e2e_ports 1)
    timeout 30 "$SIPP" "127.0.0.1:$KAM_PORT" -sf "$E2E_DIR/scenarios/uac_cancel.xml" -s 50130 \
        -key caller alice -m 1 -i 127.0.0.1 -p "$port" -t u1 -nostdin -timeout 20s -timeout_error -trace_msg -message_file "$E2E_TMP/uac.msg" \
        -trace_err -error_file "$E2E_TMP/uac.err" >"$E2E_TMP/uac.out" 2>&1 </dev/null \
        || e2e_fail "the caller's CANCEL did not end the call"
    e2e_got vic CANCEL || e2e_fail "vic's phone was not cancelled"
    # voicemail would ring 3 s after the call arrived: look once that time is well past
    t0=$(e2e_invite_time uac sent) || e2e_fail "no INVITE in the caller's trace"
    sleep "$($E2E_PY -c "print(max(0.0, $t0 + 3.5 - $(date +%s.%N)))")"
    [ "$(e2e_count vm)" = 0 ] || e2e_fail "voicemail rang after the caller hung up"
    e2e_log "ok: caller hung up after 1 s: phone cancelled, no voicemail at 3 s"
    ;;

stats)
    # Issue 16: routing statistics as Kamailio counters (kamcmd stats.get_statistics
    # callroute:), one log line per gateway failure, and the per-call decision line at the
    # level of modparam log_level (info here: the default, debug, is not logged at debug=2).
    GW_A_FAIL=503 GW_A_REASON="Service Unavailable"
    start_gateways
    # a hold-off far longer than the case (GW-A must still be down at its end, however
    # loaded the machine)
    E2E_HOLDOFF=600 e2e_start_kamailio "$KPORT" "$XML" -A 'CR_LOG_LEVEL="info"'
    # stat NAME: the counter's value (summed over the processes by Kamailio), from the
    # whole group (kamcmd prints nothing for a single counter of this kind)
    stat() {
        e2e_kamcmd stats.get_statistics callroute: | tr -d '\r' \
            | sed -n "s/^.*callroute:$1 = \([0-9][0-9]*\).*$/\1/p" | head -1
    }
    # stat_is NAME VALUE: waits up to 5 s (a worker counts after it relayed the call)
    stat_is() {
        local v=""
        for _ in $(seq 1 50); do
            v=$(stat "$1")
            [ "$v" = "$2" ] && return 0
            sleep 0.1
        done
        e2e_kamcmd stats.get_statistics callroute: >&2
        e2e_fail "callroute:$1 is '$v', expected $2"
    }
    stat_is decisions_outbound 0
    stat_is reloads_accepted 0
    # GW-A answers 503: the call fails over to GW-B (one failure, the gateway stays up)
    e2e_call alice 5550123 || e2e_fail "call with GW-A answering 503 was not completed by GW-B"
    e2e_expect_invite gwB "^sip:\+14255550123@"
    e2e_call alice 19005551234 403 || e2e_fail "1900 call did not get 403"
    stat_is decisions_outbound 1
    stat_is decisions_blocked 1
    stat_is decisions_internal 0
    stat_is failovers 1
    stat_is gateway_failures 1
    stat_is gateways_marked_down 0
    stat_is gateways_down 0
    # two more 503s: the third in a row holds GW-A down (gateway_fail_threshold 3)
    e2e_call alice 5550124 || e2e_fail "second local call not answered"
    e2e_call alice 5550125 || e2e_fail "third local call not answered"
    stat_is decisions_outbound 3
    stat_is failovers 3
    stat_is gateway_failures 3
    stat_is gateways_marked_down 1
    # every decision falls in the last (cumulative) bucket of the decision-time histogram
    stat_is decision_time_le_inf 4
    # reloads: one accepted, one refused
    e2e_kamcmd callroute.reload >/dev/null || e2e_fail "reload of a valid file failed"
    cp "$XML" "$E2E_TMP/good.xml"
    sed -i 's|<gateway>GW-B</gateway>|<gateway>No-Such-GW</gateway>|' "$XML"
    e2e_kamcmd callroute.reload >/dev/null 2>&1 && e2e_fail "callroute.reload accepted a broken file"
    cp "$E2E_TMP/good.xml" "$XML"
    stat_is reloads_accepted 1
    stat_is reloads_refused 1
    # the gauge: GW-A (held down for 600 s), and GW-C while it is set down by hand
    stat_is gateways_down 1
    e2e_kamcmd callroute.gateway_state GW-C down >/dev/null || e2e_fail "gateway_state down"
    stat_is gateways_down 2
    e2e_kamcmd callroute.gateway_state GW-C auto >/dev/null || e2e_fail "gateway_state auto"
    stat_is gateways_down 1
    # one log line per failure of GW-A (the library's, with code and outcome), none of the
    # module's own
    n=$(grep "GW-A" "$E2E_TMP/kamailio.log" | grep -c "failed" || true)
    [ "$n" = 3 ] || { grep "GW-A" "$E2E_TMP/kamailio.log" >&2; e2e_fail "$n log lines for 3 failures of GW-A"; }
    for w in "stays up (1 of 3 in a row)" "stays up (2 of 3 in a row)" \
             "marked down for 600 s (failures in a row)"; do
        grep -q "GW-A failed (503): $w" "$E2E_TMP/kamailio.log" \
            || e2e_fail "no line 'GW-A failed (503): $w'"
    done
    # log_level info: the module's decision line for each call
    grep -Eq "INFO: .*sip:alice@contoso.com -> .*5550123.*: outbound via GW-A" "$E2E_TMP/kamailio.log" \
        || e2e_fail "no decision line at level info for the outbound call"
    grep -Eq "INFO: .*sip:alice@contoso.com -> .*19005551234.*: blocked" "$E2E_TMP/kamailio.log" \
        || e2e_fail "no decision line at level info for the blocked call"
    e2e_log "ok: counters, one line per gateway failure, decision lines at log_level info"
    ;;

gw_manual_state)
    # callroute.gateway_state takes a gateway out of service by hand and gives it back.
    start_gateways
    e2e_start_kamailio "$KPORT" "$XML"
    # the state in any case (DOWN): as an operator may type it
    e2e_kamcmd callroute.gateway_state GW-A DOWN >/dev/null || e2e_fail "gateway_state GW-A DOWN refused"
    gw_state_is GW-A 'state: down[^}]*reason: manual[^}]*mode: down' \
        || e2e_fail "GW-A not reported down by hand"
    e2e_call alice 5550123 || e2e_fail "call with GW-A down by hand not answered"
    e2e_expect_invite gwB "^sip:\+14255550123@"
    [ "$(e2e_count gwA)" = 0 ] || e2e_fail "GW-A got a call while down by hand"
    e2e_kamcmd callroute.gateway_state GW-A auto >/dev/null || e2e_fail "gateway_state GW-A auto refused"
    e2e_call alice 5550124 || e2e_fail "call after auto not answered"
    e2e_expect_invite gwA "^sip:\+14255550124@"
    e2e_kamcmd callroute.gateway_state GW-X down >/dev/null && e2e_fail "gateway_state accepted an unknown gateway"
    e2e_kamcmd callroute.gateway_state GW-A sideways >/dev/null && e2e_fail "gateway_state accepted a bad state"
    e2e_log "ok: GW-A down by hand skipped; auto gives it back; bad names and states refused"
    ;;

gw_full | gw_full_stateless_bye)
    # GW-A has one port: while a first call rings there, the next call goes to GW-B (GW-A
    # "full", not down); once the first call ends (its BYE) GW-A takes calls again. The first
    # call rings until the test lets GW-A answer it (no timing assumption).
    sed -i 's|<gateway name="GW-A" address="[^"]*"|& ports="1"|' "$XML"
    pygw gwA "$PORT_A" --hold-first-file "$E2E_TMP/gwA.answer"
    e2e_gateway gwB "$PORT_B" gw_ok.xml
    e2e_wait_ports "$PORT_A" "$PORT_B"
    # gw_full_stateless_bye: the script relays BYEs with forward(), without tm: the port
    # still comes back with the BYE.
    stateless=()
    [ "$case_name" = gw_full_stateless_bye ] && stateless=(-A CR_STATELESS_BYE=1)
    e2e_start_kamailio "$KPORT" "$XML" "${stateless[@]}"
    port=$(e2e_ports 1)
    timeout 100 "$SIPP" "127.0.0.1:$KAM_PORT" -sf "$E2E_DIR/scenarios/uac.xml" -s 5550123 \
        -key caller alice -key domain contoso.com -m 1 -i 127.0.0.1 -p "$port" -t u1 -nostdin \
        -timeout 90s -timeout_error -trace_err -error_file "$E2E_TMP/uac1.err" \
        >"$E2E_TMP/uac1.out" 2>&1 </dev/null &
    first=$!
    E2E_PIDS+=("$first")
    for _ in $(seq 1 200); do
        [ "$(pygw_count gwA)" = 1 ] && break
        sleep 0.1
    done
    [ "$(pygw_count gwA)" = 1 ] || e2e_fail "the first call did not reach GW-A"
    gw_state_is GW-A 'state: full[^}]*calls: 1[^}]*ports: 1' || e2e_fail "GW-A not reported full"
    e2e_call alice 5550124 || e2e_fail "second call (GW-A full) not answered"
    e2e_expect_invite gwB "^sip:\+14255550124@"
    [ "$(pygw_count gwA)" = 1 ] || e2e_fail "GW-A got a call while full"
    touch "$E2E_TMP/gwA.answer"
    wait "$first" || e2e_fail "the first call (ringing at GW-A) failed"
    gw_state_is GW-A 'state: up[^}]*calls: 0' || e2e_fail "GW-A's port not freed by the BYE"
    e2e_call alice 5550125 || e2e_fail "third call not answered"
    [ "$(pygw_count gwA)" = 2 ] || e2e_fail "GW-A did not take the third call"
    e2e_log "ok: GW-A full skipped (not down); its port comes back with the BYE"
    ;;

gw_full_refused)
    # GW-A has one port and refuses calls with 486 Busy Here (a final answer: no failover).
    # No BYE ever comes for such a call: the 486 going back to the caller frees the port, so
    # the next call tries GW-A again instead of taking it as full and going to GW-B.
    sed -i 's|<gateway name="GW-A" address="[^"]*"|& ports="1"|' "$XML"
    GW_A_FAIL=486 GW_A_REASON="Busy Here"
    start_gateways
    e2e_start_kamailio "$KPORT" "$XML"
    e2e_call alice 5550123 486 || e2e_fail "caller did not get GW-A's 486"
    gw_state_is GW-A 'state: up[^}]*calls: 0[^}]*ports: 1' || e2e_fail "GW-A's port not freed by the 486"
    e2e_call alice 5550124 486 || e2e_fail "second call: caller did not get GW-A's 486"
    [ "$(e2e_count gwA)" = 2 ] || e2e_fail "GW-A got $(e2e_count gwA) calls, not 2 (its port still held?)"
    [ "$(e2e_count gwB)" = 0 ] || e2e_fail "GW-B got a call: GW-A was taken as full"
    e2e_log "ok: a refused call gave GW-A's port back (no BYE): the next call went to GW-A"
    ;;

gw_probe)
    # OPTIONS every second: GW-A stops answering them and is skipped before any call tries
    # it; it answers again and takes calls again.
    pygw gwA "$PORT_A" --silent-file "$E2E_TMP/gwA.silent"
    pygw gwB "$PORT_B"
    e2e_wait_ports "$PORT_A" "$PORT_B"
    e2e_start_kamailio "$KPORT" "$XML" -A CR_PROBE=1 -A CR_FR_TIMER=1000
    pygw_got gwA OPTIONS || e2e_fail "GW-A got no OPTIONS"
    touch "$E2E_TMP/gwA.silent"
    gw_state_is GW-A 'state: down[^}]*reason: probe' || e2e_fail "GW-A not down without OPTIONS answers"
    e2e_call alice 5550123 || e2e_fail "call with GW-A silent not answered"
    [ "$(pygw_count gwA)" = 0 ] || e2e_fail "a call tried GW-A while it did not answer OPTIONS"
    [ "$(pygw_count gwB)" = 1 ] || e2e_fail "GW-B did not take the call"
    rm -f "$E2E_TMP/gwA.silent"
    gw_state_is GW-A 'state: up' || e2e_fail "GW-A not up again after answering OPTIONS"
    e2e_call alice 5550124 || e2e_fail "call after GW-A came back not answered"
    [ "$(pygw_count gwA)" = 1 ] || e2e_fail "GW-A did not take the call after coming back"
    e2e_log "ok: GW-A down while silent to OPTIONS (no call tried it), up again after"
    ;;

*)
    e2e_fail "unknown case $case_name"
    ;;
esac
e2e_log "PASS $case_name"
