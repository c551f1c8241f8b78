#!/usr/bin/env bash
# End-to-end cases of response groups (callroute_rgs(), the module's match-maker process):
# Debian's Kamailio with examples/kamailio/kamailio.cfg, agents as sipp phones that REGISTER,
# callers as sipp. Fixture: fixtures/rgs.xml.
#   CR_MODULE=.../callroute.so CR_LIBRARY=.../libcallroute.so.1 tests/e2e/rgs.sh CASE
# Cases: rgs_serial rgs_parallel rgs_parallel_silent rgs_decline rgs_caller_cancel rgs_refused rgs_formal rgs_overflow
#        rgs_hours rgs_restart rgs_round_robin rgs_longest_idle rgs_attendant rgs_line
#        rgs_timeout_number rgs_handover rgs_late_answer rgs_presence_publish rgs_line_dialed rgs_kemi rgs_user_forward
#        rgs_line_inbound rgs_max_wait. E2E_KEEP=1 keeps the scratch directory (logs, sipp traces).
# Each case also checks determinism: the engine's input timeline that the module wrote
# (rgs_events), replayed through `callroute simulate --log`, gives the same queue event log
# as the module's (rgs_log).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

case_name=${1:?usage: rgs.sh CASE}
e2e_init
read -r KPORT PORT_D PORT_A PORT_B <<<"$(e2e_ports 4)"
PORT_C=0
XML=$E2E_TMP/rgs.xml
e2e_fixture "$E2E_DIR/fixtures/rgs.xml" "$XML"
CLI=${CR_CLI:-$(dirname "$CR_LIBRARY")/callroute}

start_kam() {
    e2e_start_kamailio "$KPORT" "$XML" -A "CR_RGS_STATE=\"$E2E_TMP/rgs-state\"" \
        -A "CR_RGS_LOG=\"$E2E_TMP/queue.log\"" -A "CR_RGS_EVENTS=\"$E2E_TMP/events.txt\""
}

# start_agent NAME SCENARIO: a registered sipp phone for agent sip:NAME@contoso.com (no
# media). Its trace is $E2E_TMP/NAME.msg.
start_agent() { e2e_agent "$1" "$2"; }

# A phone answering 486 or 603 at once.
decline_scen() {
    sed -e "s/@CODE@/$1/g" -e "s/@REASON@/$2/g" "$E2E_DIR/scenarios/gw_fail.xml" \
        >"$E2E_TMP/decline_$1.xml"
    echo "$E2E_TMP/decline_$1.xml"
}

# cancel_call NUMBER: a caller who hangs up 1 s after the 182 (or a 180).
cancel_call() {
    local port
    port=$(e2e_ports 1)
    timeout 30 "$SIPP" "127.0.0.1:$KAM_PORT" -sf "$E2E_DIR/scenarios/uac_cancel.xml" -s "$1" \
        -key caller alice -m 1 -i 127.0.0.1 -p "$port" -t u1 -nostdin -timeout 20s \
        -timeout_error -trace_msg -message_file "$E2E_TMP/uac.msg" -trace_err \
        -error_file "$E2E_TMP/uac.err" >"$E2E_TMP/uac.out" 2>&1 </dev/null
}

# caller NAME SCENARIO NUMBER [sipp args...]: one call from sip:alice@contoso.com whose
# traces are $E2E_TMP/NAME.msg, .out, .err (several callers may run at once).
caller() {
    local name=$1 scen=$2 number=$3 port
    shift 3
    port=$(e2e_ports 1)
    case $scen in /*) ;; *) scen=$E2E_DIR/scenarios/$scen ;; esac
    timeout 40 "$SIPP" "127.0.0.1:$KAM_PORT" -sf "$scen" -s "$number" -key caller alice \
        -key domain contoso.com -m 1 -i 127.0.0.1 -p "$port" -t u1 -nostdin -timeout 30s \
        -timeout_error -trace_msg -message_file "$E2E_TMP/$name.msg" -trace_err \
        -error_file "$E2E_TMP/$name.err" "$@" >"$E2E_TMP/$name.out" 2>&1 </dev/null
}

# A caller who hangs up SECONDS after the 182 (uac_cancel.xml waits 1 s).
cancel_after() {
    sed "s/timeout=\"1000\" ontimeout=\"hangup\"/timeout=\"$1\" ontimeout=\"hangup\"/" \
        "$E2E_DIR/scenarios/uac_cancel.xml" >"$E2E_TMP/uac_cancel_$1.xml"
    grep -q "timeout=\"$1\"" "$E2E_TMP/uac_cancel_$1.xml" || e2e_fail "cannot make uac_cancel_$1"
    echo "$E2E_TMP/uac_cancel_$1.xml"
}

# Agents in the order they were rung (every INVITE they received, by time).
ring_order() {
    local a
    for a in "$@"; do
        awk -v who="$a" '/^-+ [0-9-]+ [0-9:.]+$/ { ts = $2 " " $3 }
             /^(UDP|TCP) message / { dir = ($0 ~ /message sent/) ? "sent" : "received"; next }
             dir == "received" && /^INVITE / { print ts, who }' "$E2E_TMP/$a.msg"
    done | sort | awk '{ print $3 }' | paste -sd' '
}

# A caller who stays connected SECONDS before hanging up.
long_call() {
    awk -v ms="$1" '/start_txn="bye"/ && !done { print "  <pause milliseconds=\"" ms "\"/>"; done = 1 } { print }' \
        "$E2E_DIR/scenarios/uac.xml" >"$E2E_TMP/uac_long_$1.xml"
    echo "$E2E_TMP/uac_long_$1.xml"
}

# stat NAME: the counter callroute:NAME (kamcmd stats.get_statistics).
stat() {
    e2e_kamcmd stats.get_statistics callroute: | sed -n "s/^callroute:$1 = \([0-9]*\)$/\1/p"
}

# Every event handed to the match maker so far has been handled: the hand-over pipe is FIFO
# and a snapshot request is answered in its turn, so after callroute.rgs.queues returns, the
# timeline and the queue log hold them. (A loaded machine can leave the match maker seconds
# behind the calls a case just finished.) Nothing to wait for once Kamailio has stopped.
sync_match_maker() {
    [ -n "$E2E_KAM_PID" ] && kill -0 "$E2E_KAM_PID" 2>/dev/null || return 0
    local _
    for _ in 1 2 3 4 5; do
        e2e_kamcmd callroute.rgs.queues >/dev/null 2>&1 && return 0
    done
    e2e_fail "the match maker answered no snapshot request"
}

# The module's queue event log equals the replay of its input timeline: each run of
# Kamailio (a "# start EPOCH" line opens it) is replayed with `callroute simulate`, all runs
# sharing one state directory as the module's engine does across a restart.
check_replay() {
    sync_match_maker
    [ -s "$E2E_TMP/events.txt" ] || e2e_fail "no engine timeline written (rgs_events)"
    [ -x "$CLI" ] || { e2e_log "no callroute CLI at $CLI: replay not checked"; return 0; }
    rm -rf "$E2E_TMP/replay-state" "$E2E_TMP/replay-run."*
    : >"$E2E_TMP/replay.log"
    # a run: "# start EPOCH", its events, "# advance SECONDS" where timers acted
    awk -v dir="$E2E_TMP" '/^# start / { n++; print $3 > (dir "/replay-run." n ".start"); next }
         /^# advance / { print $3 > (dir "/replay-run." n ".until"); next }
         /^#/ { next }
         { print > (dir "/replay-run." n ".events"); print $1 > (dir "/replay-run." n ".until") }' \
        "$E2E_TMP/events.txt"
    local runs=0 events=0 f start until
    for f in "$E2E_TMP"/replay-run.*.start; do
        runs=$((runs + 1))
        start=$(cat "$f")
        # the latest time of the run, not the last line: a timer that was overdue when the
        # match maker got to it is written ("# advance T") after events later than T
        until=$( { sort -n "${f%.start}.until" 2>/dev/null || true; } | tail -n 1)
        until=${until:-0}
        f=${f%.start}.events
        [ -s "$f" ] || continue
        events=$((events + $(wc -l <"$f")))
        "$CLI" simulate --config "$XML" --state "$E2E_TMP/replay-state" --until "$until" \
            --start "$(date -u -d "@$start" +%Y-%m-%dT%H:%M:%SZ)" --log "$E2E_TMP/replay-part.log" \
            "$f" >"$E2E_TMP/replay.out" 2>&1 \
            || { cat "$E2E_TMP/replay.out" >&2; e2e_fail "callroute simulate refused $f"; }
        cat "$E2E_TMP/replay-part.log" >>"$E2E_TMP/replay.log"
    done
    if [ "$events" = 0 ]; then
        [ ! -s "$E2E_TMP/queue.log" ] || e2e_fail "a queue log without engine events"
        e2e_log "ok: no event reached the engine, no queue log"
        return 0
    fi
    diff -u "$E2E_TMP/queue.log" "$E2E_TMP/replay.log" >&2 \
        || e2e_fail "the queue event log differs from the replay of the module's timeline"
    e2e_log "ok: replay of $events events ($runs runs) gives the same queue log ($(wc -l <"$E2E_TMP/queue.log") lines)"
}

# tm's reference counts stayed balanced: a cell whose count reached 0 while still in tm's
# hash table is logged by tm ("removed cell ... still linked in hash table") and freed under
# its feet (t_reply_with_body() drops a reference its caller must have taken).
check_tm_refs() {
    sleep 0.3 # the last transactions' replies
    if grep -a -E "still linked in (hash table|wait timer)" "$E2E_TMP/kamailio.log" >&2; then
        e2e_fail "tm reference count imbalance (a transaction freed while still in use)"
    fi
    return 0
}

# publish USER BASIC ACTIVITY: USER's phone PUBLISHes a PIDF (basic open|closed, an RPID
# activity); agent_presence USER: the engine's presence of agent USER (callroute.rgs.agents).
publish() {
    timeout 15 "$SIPP" "127.0.0.1:$KAM_PORT" -sf "$E2E_DIR/scenarios/publish.xml" \
        -key user "$1" -key basic "$2" -key activity "$3" -m 1 -i 127.0.0.1 \
        -p "$(e2e_ports 1)" -t u1 -nostdin -timeout 10s -timeout_error \
        >"$E2E_TMP/publish_$1.out" 2>&1 </dev/null || e2e_fail "PUBLISH of $1 not answered 200"
}
agent_presence() {
    e2e_kamcmd callroute.rgs.agents | tr -d '\n' \
        | grep -Eo "agent: sip:$1@contoso.com[^}]*presence: [a-z]+" | sed 's/.*presence: //'
}

case $case_name in
rgs_serial)
    # s1 never answers: after the alert time (10 s) s2 rings and answers; s1 is cancelled.
    start_kam
    start_agent s1 uas_ring.xml
    start_agent s2 gw_ok.xml
    E2E_UAC_ARGS=(-timeout 25s)
    e2e_call alice serial || e2e_fail "the call to the serial group was not answered"
    e2e_expect_invite s1 "^sip:s1@127\.0\.0\.1"
    e2e_expect_invite s2 "^sip:s2@127\.0\.0\.1"
    e2e_got s1 CANCEL || e2e_fail "s1 was not cancelled after its alert time"
    d=$(e2e_delay s1 s2) || e2e_fail "no INVITE times"
    $E2E_PY -c "import sys; sys.exit(0 if 9.8 <= $d <= 11.5 else 1)" \
        || e2e_fail "s2 rang $d s after s1 (alert time 10 s)"
    grep -a -q "182 Queued" "$E2E_TMP/uac.msg" || e2e_fail "the caller got no 182 Queued"
    e2e_log "ok: serial: s2 rang $d s after s1, answered"
    ;;

rgs_parallel)
    # p1 and p2 ring, p3 answers: p1 and p2 are cancelled.
    start_kam
    start_agent p1 uas_ring.xml
    start_agent p2 uas_ring.xml
    start_agent p3 gw_ok.xml
    e2e_call alice parallel || e2e_fail "the call to the parallel group was not answered"
    for a in p1 p2 p3; do e2e_expect_invite $a "^sip:$a@127\.0\.0\.1"; done
    e2e_got p1 CANCEL || e2e_fail "p1 not cancelled when p3 answered"
    e2e_got p2 CANCEL || e2e_fail "p2 not cancelled when p3 answered"
    e2e_log "ok: parallel: p3 answered, p1 and p2 cancelled"
    ;;

rgs_parallel_silent)
    # p1's replies to the INVITE are lost (it sends nothing until a CANCEL), p2 rings, p3
    # answers: p2 is cancelled at once, p1 a second later whatever tm saw (tm stopped the
    # INVITE's retransmissions, so no 1xx of p1's would ever trigger its CANCEL).
    start_kam
    start_agent p1 uas_silent.xml
    start_agent p2 uas_ring.xml
    start_agent p3 gw_ok.xml
    e2e_call alice parallel || e2e_fail "the call to the parallel group was not answered"
    for a in p1 p2 p3; do e2e_expect_invite $a "^sip:$a@127\.0\.0\.1"; done
    e2e_got p2 CANCEL || e2e_fail "p2 not cancelled when p3 answered"
    e2e_got p1 CANCEL || e2e_fail "silent p1 not cancelled after p3 answered"
    grep -q "response groups: .*is still open [0-9]* ms after it was to be cancelled: last reply 0, .*: sending its CANCEL now" \
        "$E2E_TMP/kamailio.log" || e2e_fail "no warning for the branch cancelled late"
    e2e_got p1 ACK || e2e_fail "p1's 487 was not acknowledged"
    e2e_log "ok: parallel: p3 answered, p2 cancelled, silent p1 cancelled a second later"
    ;;

rgs_decline)
    # d1 declines (486), d2 declines (603: must not end the hunt), d3 answers, at once (well
    # inside the 10 s alert time, with a margin for a loaded machine).
    start_kam
    start_agent d1 "$(decline_scen 486 'Busy Here')"
    start_agent d2 "$(decline_scen 603 Decline)"
    start_agent d3 gw_ok.xml
    e2e_call alice decline || e2e_fail "the call was not answered by d3 after two declines"
    for a in d1 d2 d3; do e2e_expect_invite $a "^sip:$a@127\.0\.0\.1"; done
    d=$(e2e_delay d1 d3) || e2e_fail "no INVITE times"
    $E2E_PY -c "import sys; sys.exit(0 if $d < 5.0 else 1)" \
        || e2e_fail "d3 rang $d s after d1 (declines move on at once)"
    e2e_log "ok: 486 and 603 moved on at once: d3 rang $d s after d1"
    ;;

rgs_caller_cancel)
    # c1 rings; the caller hangs up after 6 s (past tm's fr_timer of 5 s): the caller gets
    # 487, c1 gets CANCEL and is not rung again. While queued, callroute.rgs.queues shows
    # the call.
    start_kam
    start_agent c1 uas_ring.xml
    caller uac "$(cancel_after 6000)" cancel &
    uac=$!
    e2e_got c1 INVITE || e2e_fail "c1 not rung"
    q=$(e2e_kamcmd callroute.rgs.queues) || e2e_fail "callroute.rgs.queues failed"
    tr -d '\n' <<<"$q" | grep -Eq 'queue: Cancel.*calls:.*caller: sip:alice@contoso.com.*state: ringing' \
        || { echo "$q" >&2; e2e_fail "callroute.rgs.queues does not show the ringing call"; }
    # every field the RPCs promise (issue 12): per queue its counts and calls (id, caller,
    # seconds waited, state); per agent presence, state, calls, answered and its groups
    tr -d '\n\t' <<<"$q" | grep -Eq '\{queue: Cancelwaiting: 0ringing: 1longest_wait_s: [0-9.]+calls: \{\{id: [^}]*@127\.0\.0\.1caller: sip:alice@contoso\.comwaited_s: [0-9.]+state: ringing\}\}\}' \
        || { echo "$q" >&2; e2e_fail "callroute.rgs.queues: the Cancel queue's fields"; }
    a=$(e2e_kamcmd callroute.rgs.agents) || e2e_fail "callroute.rgs.agents failed"
    tr -d '\n\t' <<<"$a" | grep -Eq '\{agent: sip:c1@contoso\.compresence: availablestate: ringingcalls: [0-9]+answered: 0groups: \{\{group: Cancelformal: falsesigned_in: true\}\}\}' \
        || { echo "$a" >&2; e2e_fail "callroute.rgs.agents: c1's fields"; }
    wait "$uac" || e2e_fail "the caller's CANCEL did not end the call (no 487)"
    e2e_got c1 CANCEL || e2e_fail "c1 was not cancelled when the caller hung up"
    sleep 2
    [ "$(e2e_count c1)" = 1 ] || e2e_fail "c1 rang $(e2e_count c1) times"
    q=$(e2e_kamcmd callroute.rgs.queues) || e2e_fail "callroute.rgs.queues failed"
    grep -q "id:" <<<"$q" && { echo "$q" >&2; e2e_fail "a call is still queued"; }
    # the workflow's counters (published every 200 ms): one call offered and abandoned
    for _ in $(seq 1 50); do
        [ "$(stat cancel_abandoned)" = 1 ] && break
        sleep 0.1
    done
    c="$(stat cancel_offered) $(stat cancel_answered) $(stat cancel_abandoned) $(stat cancel_timed_out) $(stat cancel_waiting)"
    [ "$c" = "1 0 1 0 0" ] || e2e_fail "cancel_offered/answered/abandoned/timed_out/waiting: $c, not 1 0 1 0 0"
    e2e_log "ok: caller CANCEL: agent cancelled, queue empty"
    ;;

rgs_refused)
    # an inactive workflow: 480 with a Reason at once; not a workflow: routed as before (404)
    start_kam
    e2e_call alice closed 480 || e2e_fail "the inactive workflow did not answer 480"
    grep -a -q 'Reason: SIP;cause=480;text="inactive"' "$E2E_TMP/uac.msg" \
        || e2e_fail "no Reason header naming the cause"
    e2e_log "ok: inactive workflow refused with 480 (Reason inactive)"
    ;;

rgs_formal)
    # f1 (formal) is not rung before signing in: the queue times out (3 s) to voicemail.
    # Signed in, f1 rings; signed out while ringing, f1 is cancelled at once and the call
    # goes to voicemail at its timeout.
    e2e_gateway vm "$PORT_D" gw_ok.xml
    e2e_wait_ports "$PORT_D"
    start_kam
    start_agent f1 uas_ring.xml
    # names are checked against the configuration: unknown agent or group 404, a presence
    # state that is none of the five or a missing argument 400 (nothing reaches the engine)
    # fault EXPECTED RPC ARGS...: the RPC fails with the fault text EXPECTED
    fault() {
        local expect=$1 out
        shift
        if out=$(e2e_kamcmd "$@" 2>&1); then
            echo "$out" >&2; e2e_fail "$* was accepted"
        fi
        grep -qF -- "$expect" <<<"$out" || { echo "$out" >&2; e2e_fail "$*: not '$expect'"; }
    }
    fault "404 - no agent sip:nobody@contoso.com" callroute.rgs.signin sip:nobody@contoso.com Formal
    fault "404 - no agent group NoSuchGroup" callroute.rgs.signin sip:f1@contoso.com NoSuchGroup
    fault "404 - no agent sip:nobody@contoso.com" callroute.rgs.signout sip:nobody@contoso.com Formal
    fault "404 - no agent sip:nobody@contoso.com" callroute.rgs.presence sip:nobody@contoso.com busy
    fault "400 - presence sleepy: one of available, busy, away, dnd, offline" callroute.rgs.presence sip:f1@contoso.com sleepy
    fault "400 - usage: AGENT STATE" callroute.rgs.presence sip:f1@contoso.com
    fault "400 - usage: AGENT GROUP" callroute.rgs.signin
    e2e_log "ok: unknown agents and groups 404, bad presence states and missing arguments 400"
    e2e_call alice formal || e2e_fail "the first call did not reach voicemail"
    e2e_expect_invite vm "^sip:formal-vm@127\.0\.0\.1:$PORT_D"
    [ "$(e2e_count f1)" = 0 ] || e2e_fail "f1 was rung before signing in"
    e2e_kamcmd callroute.rgs.signin sip:f1@contoso.com Formal >/dev/null || e2e_fail "signin"
    a=$(e2e_kamcmd callroute.rgs.agents) || e2e_fail "callroute.rgs.agents failed"
    tr -d '\n' <<<"$a" | grep -Eq 'f1@contoso.com.*signed_in: (1|true)' \
        || { echo "$a" >&2; e2e_fail "f1 not reported signed in"; }
    e2e_call alice formal &
    uac=$!
    e2e_got f1 INVITE || e2e_fail "f1 not rung after signing in"
    e2e_kamcmd callroute.rgs.signout sip:f1@contoso.com Formal >/dev/null || e2e_fail "signout"
    e2e_got f1 CANCEL || e2e_fail "f1 not cancelled when signing out"
    wait "$uac" || e2e_fail "the second call did not reach voicemail"
    [ "$(e2e_count vm)" = 2 ] || e2e_fail "voicemail got $(e2e_count vm) calls"
    e2e_log "ok: formal agent: not rung before sign-in, cancelled at sign-out"
    ;;

rgs_restart)
    # Sign-ins survive a restart (rgs_state); a call then rings the signed-in agent.
    start_kam
    e2e_kamcmd callroute.rgs.signin sip:f1@contoso.com Formal >/dev/null || e2e_fail "signin"
    sleep 0.5
    kill -TERM "$E2E_KAM_PID"
    for _ in $(seq 1 100); do kill -0 "$E2E_KAM_PID" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$E2E_KAM_PID" 2>/dev/null && e2e_fail "kamailio did not stop"
    start_kam
    a=$(e2e_kamcmd callroute.rgs.agents) || e2e_fail "callroute.rgs.agents failed"
    tr -d '\n' <<<"$a" | grep -Eq 'f1@contoso.com.*signed_in: (1|true)' \
        || { echo "$a" >&2; e2e_fail "f1's sign-in did not survive the restart"; }
    start_agent f1 gw_ok.xml
    e2e_call alice formal || e2e_fail "the call after the restart was not answered"
    e2e_expect_invite f1 "^sip:f1@127\.0\.0\.1"
    e2e_log "ok: sign-in kept across a restart; f1 answered"
    ;;

rgs_overflow)
    # OvNewest (1 call at most): a second call overflows at once to voicemail while the
    # first one rings o1. OvOldest: the first call is forwarded when the second arrives,
    # and o1 is rung for the second.
    e2e_gateway vm "$PORT_D" gw_ok.xml
    e2e_wait_ports "$PORT_D"
    start_kam
    start_agent o1 uas_ring.xml
    caller first "$(cancel_after 15000)" ovnewest &
    first=$!
    e2e_got o1 INVITE || e2e_fail "o1 not rung for the first call"
    caller second uac.xml ovnewest || e2e_fail "the newest call did not overflow to voicemail"
    e2e_expect_invite vm "^sip:ovn-vm@127\.0\.0\.1:$PORT_D"
    wait "$first" || e2e_fail "the first call did not end with the caller's CANCEL"
    [ "$(e2e_count o1)" = 1 ] || e2e_fail "o1 rang $(e2e_count o1) times (newest)"
    caller third uac.xml ovoldest &
    third=$!
    for _ in $(seq 1 300); do [ "$(e2e_count o1)" = 2 ] && break; sleep 0.1; done
    [ "$(e2e_count o1)" = 2 ] || e2e_fail "o1 not rung for the third call"
    caller fourth "$(cancel_after 4000)" ovoldest || e2e_fail "the fourth call did not end"
    wait "$third" || e2e_fail "the oldest call was not forwarded and answered"
    e2e_expect_invite vm "^sip:ovo-fwd@127\.0\.0\.1:$PORT_D"
    [ "$(e2e_count o1)" = 3 ] || e2e_fail "o1 rang $(e2e_count o1) times (oldest: 3 expected)"
    e2e_log "ok: overflow newest -> voicemail; oldest -> forwarded, o1 rung for the newer call"
    ;;

rgs_hours)
    # After hours: forwarded to a SIP URI (relayed); holiday: disconnect (480, Reason);
    # during business hours a workflow rings its agents.
    e2e_gateway vm "$PORT_D" gw_ok.xml
    e2e_wait_ports "$PORT_D"
    start_kam
    caller ah uac.xml afterhours || e2e_fail "the after-hours call was not forwarded"
    e2e_expect_invite vm "^sip:ah-fwd@127\.0\.0\.1:$PORT_D"
    sed "s/@EXPECT@/480/g" "$E2E_DIR/scenarios/uac_reject.xml" >"$E2E_TMP/uac_480.xml"
    caller hol "$E2E_TMP/uac_480.xml" holiday || e2e_fail "the holiday call did not get 480"
    grep -a -q 'Reason: SIP;cause=480;text="holiday"' "$E2E_TMP/hol.msg" \
        || e2e_fail "no Reason naming the holiday"
    # open now (closed at the epoch, the time of the workers' private engines): rings op1
    start_agent op1 gw_ok.xml
    caller open uac.xml open || e2e_fail "a call during business hours was not answered"
    e2e_expect_invite op1 "^sip:op1@127\.0\.0\.1"
    e2e_log "ok: after hours forwarded, holiday disconnected with 480 (Reason holiday), open hours ring"
    ;;

rgs_round_robin)
    # 6 calls over r1 r2 r3: each rings in turn, twice; the counters follow.
    start_kam
    for a in r1 r2 r3; do start_agent $a gw_ok.xml; done
    for i in 1 2 3 4 5 6; do
        caller c$i uac.xml roundrobin || e2e_fail "round-robin call $i not answered"
    done
    order=$(ring_order r1 r2 r3)
    [ "$order" = "r1 r2 r3 r1 r2 r3" ] || e2e_fail "round robin rang: $order"
    sleep 0.5 # the match maker publishes its statistics every 200 ms
    [ "$(stat roundrobin_offered)" = 6 ] || e2e_fail "roundrobin_offered = $(stat roundrobin_offered)"
    [ "$(stat roundrobin_answered)" = 6 ] || e2e_fail "roundrobin_answered = $(stat roundrobin_answered)"
    [ "$(stat roundrobin_waiting)" = 0 ] || e2e_fail "roundrobin_waiting = $(stat roundrobin_waiting)"
    e2e_log "ok: round robin over 6 calls: $order; counters offered=6 answered=6"
    ;;

rgs_longest_idle)
    # The first call keeps one agent busy 15 s (a margin for a loaded machine: the second
    # call must be placed while it lasts); the second goes to the other one and ends at
    # once; the third goes to the agent idle the longest since his call ended (the second
    # call's agent), not since he answered.
    start_kam
    start_agent l1 gw_ok.xml
    start_agent l2 gw_ok.xml
    caller first "$(long_call 15000)" longestidle &
    first=$!
    for _ in $(seq 1 300); do [ -n "$(ring_order l1 l2)" ] && break; sleep 0.1; done
    busy=$(ring_order l1 l2)
    [ -n "$busy" ] || e2e_fail "nobody rang for the first call"
    other=l1; [ "$busy" = l1 ] && other=l2
    caller second uac.xml longestidle || e2e_fail "second call not answered"
    [ "$(ring_order l1 l2)" = "$busy $other" ] || e2e_fail "second call rang: $(ring_order l1 l2)"
    wait "$first" || e2e_fail "first call failed"
    caller third uac.xml longestidle || e2e_fail "third call not answered"
    [ "$(ring_order l1 l2)" = "$busy $other $other" ] \
        || e2e_fail "third call should ring $other (idle longest since his call ended): $(ring_order l1 l2)"
    e2e_log "ok: longest idle counts from the end of the call: $(ring_order l1 l2)"
    ;;

rgs_attendant)
    # Attendant: every signed-in agent rings, whatever his presence (t2 busy); t2 answers
    # and t1 is cancelled.
    start_kam
    start_agent t1 uas_ring.xml
    start_agent t2 gw_ok.xml
    for a in t1 t2; do
        e2e_kamcmd callroute.rgs.signin "sip:$a@contoso.com" Attendant >/dev/null || e2e_fail "signin $a"
    done
    e2e_kamcmd callroute.rgs.presence sip:t2@contoso.com busy >/dev/null || e2e_fail "presence"
    caller c1 uac.xml attendant || e2e_fail "the attendant call was not answered"
    e2e_expect_invite t1 "^sip:t1@127\.0\.0\.1"
    e2e_expect_invite t2 "^sip:t2@127\.0\.0\.1"
    e2e_got t1 CANCEL || e2e_fail "t1 not cancelled when t2 answered"
    e2e_log "ok: attendant rang t1 and a busy t2; t2 answered, t1 cancelled"
    ;;

rgs_line)
    # The workflow's line (tel:+14255550160) dialed by a user (sip:+1...@contoso.com) and by
    # a gateway (from GW-A's address) reaches it.
    start_kam
    start_agent ln1 gw_ok.xml
    caller user uac.xml +14255550160 || e2e_fail "the line dialed by a user did not reach it"
    caller gw uac.xml +14255550160 -p "$PORT_A" || e2e_fail "the line dialed from GW-A did not reach it"
    [ "$(e2e_count ln1)" = 2 ] || e2e_fail "ln1 got $(e2e_count ln1) calls"
    e2e_log "ok: the line reaches the workflow from a user and from a gateway"
    ;;

rgs_line_dialed)
    # A user (alice) dials the Line workflow's number in forms callroute_rgs() alone does not
    # know: its extension 50160 (alice's location profile makes it +14255550160) and the
    # 10-digit 4255550160. callroute_route() says internal with the workflow's URI as target;
    # route[INTERNAL] hands the call to callroute_rgs(); ln1 answers both.
    start_kam
    start_agent ln1 gw_ok.xml
    caller ext uac.xml 50160 || e2e_fail "the extension dialed by a user did not reach the workflow"
    caller ten uac.xml 4255550160 || e2e_fail "the 10-digit number dialed by a user did not reach the workflow"
    [ "$(e2e_count ln1)" = 2 ] || e2e_fail "ln1 got $(e2e_count ln1) calls"
    e2e_expect_invite ln1 "^sip:ln1@127\.0\.0\.1"
    n=$(grep -c "dialed 50160: internal +14255550160 -> sip:line@contoso.com\|dialed 4255550160: internal +14255550160 -> sip:line@contoso.com" \
        "$E2E_TMP/kamailio.log" || true)
    [ "$n" = 2 ] || e2e_fail "callroute_route() did not decide internal -> sip:line@contoso.com twice ($n)"
    e2e_log "ok: a user dialing the workflow's extension and number reaches it (callroute_route() = 2)"
    ;;

rgs_kemi)
    # The KEMI script (kamailio-kemi.cfg + callroute.js) hands calls to response groups as
    # the native one does: the workflow's URI to callroute_rgs() at once, its extension
    # through callroute_route_params() (internal) and then callroute_rgs(); ln1 answers both.
    [ -f /usr/lib/x86_64-linux-gnu/kamailio/modules/app_jsdt.so ] \
        || e2e_fail "app_jsdt.so missing (apt-get install kamailio-extra-modules)"
    E2E_CFG=$E2E_TOP/examples/kamailio/kamailio-kemi.cfg
    e2e_start_kamailio "$KPORT" "$XML" -A "CR_RGS_STATE=\"$E2E_TMP/rgs-state\"" \
        -A "CR_RGS_LOG=\"$E2E_TMP/queue.log\"" -A "CR_RGS_EVENTS=\"$E2E_TMP/events.txt\"" \
        -A "CR_KEMI_SCRIPT=\"$E2E_TOP/examples/kamailio/callroute.js\""
    start_agent ln1 gw_ok.xml
    caller uri uac.xml line || e2e_fail "KEMI: the call to the workflow's URI was not answered"
    caller ext uac.xml 50160 || e2e_fail "KEMI: the workflow's extension dialed by a user was not answered"
    [ "$(e2e_count ln1)" = 2 ] || e2e_fail "ln1 got $(e2e_count ln1) calls"
    grep -a -q "^SIP/2.0 182" "$E2E_TMP/uri.msg" || e2e_fail "KEMI: the caller got no 182 Queued"
    grep -q "callroute (kemi): sip:alice@contoso.com dialed 50160: internal" "$E2E_TMP/kamailio.log" \
        || e2e_fail "KEMI: callroute_route_params() did not decide internal for 50160"
    e2e_log "ok: the KEMI script hands the workflow's URI and extension to callroute_rgs()"
    # presence PUBLISHed by the agent's phone: callroute_rgs_presence() from the KEMI script
    for want in "open away:away" "closed unknown:offline" "open unknown:available"; do
        publish ln1 ${want%%:*}
        for _ in $(seq 1 50); do
            [ "$(agent_presence ln1)" = "${want#*:}" ] && break
            sleep 0.1
        done
        [ "$(agent_presence ln1)" = "${want#*:}" ] \
            || e2e_fail "KEMI: PUBLISH ${want%%:*}: ln1 is $(agent_presence ln1), not ${want#*:}"
    done
    e2e_log "ok: the KEMI script feeds PUBLISHed presence to callroute_rgs_presence()"
    ;;

rgs_user_forward)
    # Users who forward their calls to the Line workflow, one to its extension 50160, one to
    # its URI: callroute_user()'s branch goes back to this proxy (a spiral), where
    # callroute_rgs() queues it; ln1 answers both.
    start_kam
    start_agent ln1 gw_ok.xml
    caller num uac.xml fwd || e2e_fail "the call to a user forwarding to the workflow's extension was not answered"
    caller uri uac.xml fwduri || e2e_fail "the call to a user forwarding to the workflow's URI was not answered"
    [ "$(e2e_count ln1)" = 2 ] || e2e_fail "ln1 got $(e2e_count ln1) calls"
    n=$(grep -c "response groups: call sip:alice@contoso.com -> sip:line@contoso.com queued" "$E2E_TMP/kamailio.log" || true)
    [ "$n" = 2 ] || e2e_fail "the workflow queued $n forwarded calls, not 2"
    grep -q "user sip:fwd@contoso.com: ringing forward sip:line@contoso.com" "$E2E_TMP/kamailio.log" \
        || e2e_fail "callroute_user() did not ring the workflow's URI for fwd"
    e2e_log "ok: forwarding to a workflow's extension or URI reaches the workflow through this proxy"
    ;;

rgs_max_wait)
    # rgs_max_wait 10 s, tm's max_inv_lifetime 4 s: the caller of a group whose agents are
    # not signed in waits the 10 s (the module's lifetime, not tm's) and then gets 408 from
    # tm; the match maker forgets the call. At start the log warns of every queue timeout
    # longer than 10 s, naming the file, line and queue.
    e2e_start_kamailio "$KPORT" "$XML" -A "CR_RGS_STATE=\"$E2E_TMP/rgs-state\"" \
        -A "CR_RGS_LOG=\"$E2E_TMP/queue.log\"" -A "CR_RGS_EVENTS=\"$E2E_TMP/events.txt\"" \
        -A CR_RGS_MAX_WAIT=10 -A CR_TM_MAX_INV_LIFETIME=4000
    sync_match_maker
    line=$(grep -n '<queue name="Serial">' "$XML" | cut -d: -f1)
    grep -a -q "rgs.xml:$line: warning: queue 'Serial': <timeout> of 120 s is longer than a caller may wait on the proxy (10 s" \
        "$E2E_TMP/kamailio.log" || e2e_fail "no warning for queue Serial's 120 s timeout (line $line)"
    n=$(grep -a -c "queue 'Serial': <timeout> of 120 s" "$E2E_TMP/kamailio.log" || true)
    [ "$n" = 1 ] || e2e_fail "the warning for queue Serial was logged $n times (once: the main process loads)"
    grep -a -q "queue 'Pstn': <timeout>" "$E2E_TMP/kamailio.log" \
        && e2e_fail "a warning for queue Pstn's 3 s timeout"
    E2E_UAC_ARGS=(-timeout 25s)
    t0=$(date +%s.%N)
    e2e_call alice attendant 408 || e2e_fail "the caller did not get 408 at rgs_max_wait"
    d=$($E2E_PY -c "import time; print(round(time.time() - $t0, 2))")
    $E2E_PY -c "import sys; sys.exit(0 if 9.5 <= $d <= 14 else 1)" \
        || e2e_fail "the caller was ended after $d s (rgs_max_wait 10 s, tm lifetime 4 s)"
    # the 408 ended it in the engine at once, not when tm frees the transaction (5 s later)
    sync_match_maker
    q=$(e2e_kamcmd callroute.rgs.queues) || e2e_fail "callroute.rgs.queues failed"
    grep -q "id:" <<<"$q" && { echo "$q" >&2; e2e_fail "the call is still queued after its 408"; }
    e2e_log "ok: the caller waited $d s (rgs_max_wait 10 s over tm's 4 s), then 408; warned at start"
    ;;

rgs_line_inbound)
    # A PSTN call from GW-A's address to 4255550160 and to 50160 (normalized with the default
    # profile, GW-A having none): callroute_inbound() finds the workflow's line and sets its
    # URI; callroute_rgs() takes the call and ln1 answers.
    start_kam
    start_agent ln1 gw_ok.xml
    caller gw1 uac.xml 4255550160 -p "$PORT_A" || e2e_fail "the call from GW-A to 4255550160 did not reach the workflow"
    caller gw2 uac.xml 50160 -p "$PORT_A" || e2e_fail "the call from GW-A to 50160 did not reach the workflow"
    [ "$(e2e_count ln1)" = 2 ] || e2e_fail "ln1 got $(e2e_count ln1) calls"
    n=$(grep -c "callroute: inbound alice -> [0-9]*: sip:line@contoso.com" "$E2E_TMP/kamailio.log" || true)
    [ "$n" = 2 ] || e2e_fail "callroute_inbound() did not set the workflow's URI twice ($n)"
    e2e_log "ok: calls from a gateway to the workflow's line reach it (callroute_inbound())"
    ;;

rgs_timeout_number)
    # pq1 never answers: at the queue timeout (3 s) the call is forwarded to +14255550177,
    # routed like an outbound call of the workflow's user: GW-A answers 503, GW-B answers.
    # (a 503 with Retry-After: the gateway is held down, the failure classes of callroute_next())
    sed -e "s/@CODE@/503/g" -e "s/@REASON@/Service Unavailable/g" \
        -e 's/^\( *\)Content-Length: 0/\1Retry-After: 120\n\1Content-Length: 0/' \
        "$E2E_DIR/scenarios/gw_fail.xml" >"$E2E_TMP/gw_503.xml"
    e2e_gateway gwA "$PORT_A" "$E2E_TMP/gw_503.xml"
    e2e_gateway gwB "$PORT_B" gw_ok.xml
    e2e_wait_ports "$PORT_A" "$PORT_B"
    start_kam
    start_agent pq1 uas_ring.xml
    caller c1 uac.xml pstnq || e2e_fail "the forwarded call was not answered through GW-B"
    e2e_expect_invite gwA "^sip:\+14255550177@127\.0\.0\.1:$PORT_A"
    e2e_expect_invite gwB "^sip:\+14255550177@127\.0\.0\.1:$PORT_B"
    e2e_got pq1 CANCEL || e2e_fail "pq1 not cancelled at the timeout"
    d=$(e2e_delay pq1 gwA) || e2e_fail "no INVITE times"
    $E2E_PY -c "import sys; sys.exit(0 if 2.8 <= $d <= 4.0 else 1)" || e2e_fail "forwarded $d s after pq1 rang"
    e2e_kamcmd callroute.gateways | tr -d '\n' | grep -Eq 'GW-A[^}]*down' || e2e_fail "GW-A not down after a 503 with Retry-After"
    e2e_log "ok: queue timeout forwarded to a number after $d s: GW-A 503 (Retry-After) -> GW-B"
    ;;

rgs_late_answer)
    # c1 rings; the caller hangs up after 2 s and gets 487; c1 answers 1.5 s after the
    # proxy's CANCEL all the same: the proxy ACKs that 200 and hangs c1 up with BYE.
    start_kam
    port=$(e2e_ports 1)
    e2e_gateway c1 "$port" agent_late_answer.xml -m 1
    e2e_wait_ports "$port"
    timeout 15 "$SIPP" "127.0.0.1:$KAM_PORT" -sf "$E2E_DIR/scenarios/register.xml" \
        -key user c1 -key contact_port "$port" -m 1 -i 127.0.0.1 -p "$(e2e_ports 1)" -t u1 \
        -nostdin -timeout 10s -timeout_error >"$E2E_TMP/register_c1.out" 2>&1 </dev/null \
        || e2e_fail "agent c1 could not REGISTER"
    caller uac "$(cancel_after 2000)" cancel || e2e_fail "the caller's CANCEL did not end the call"
    grep -a -q "^SIP/2.0 487 " "$E2E_TMP/uac.msg" || e2e_fail "the caller got no 487"
    e2e_got c1 CANCEL || e2e_fail "c1 was not cancelled"
    e2e_got c1 ACK || e2e_fail "c1's late 200 was not ACKed"
    e2e_got c1 BYE || e2e_fail "c1's late 200 was not hung up (no BYE)"
    for _ in $(seq 1 50); do
        kill -0 "$E2E_GW_PID_c1" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$E2E_GW_PID_c1" 2>/dev/null && e2e_fail "c1's sipp did not finish (BYE answered)"
    wait "$E2E_GW_PID_c1" || e2e_fail "c1's scenario failed"
    e2e_log "ok: a 200 after the caller's 487 was ACKed and hung up with BYE"
    ;;

rgs_presence_publish)
    # p1 and p2 PUBLISH busy (RPID on-the-phone, away): a call to the parallel group rings
    # only p3. p1 then publishes open: available again.
    start_kam
    start_agent p1 uas_ring.xml
    start_agent p2 uas_ring.xml
    start_agent p3 gw_ok.xml
    publish p1 open on-the-phone
    publish p2 open away
    for _ in $(seq 1 50); do
        [ "$(agent_presence p1) $(agent_presence p2)" = "busy away" ] && break
        sleep 0.1
    done
    [ "$(agent_presence p1) $(agent_presence p2)" = "busy away" ] \
        || e2e_fail "published presence not taken: p1 $(agent_presence p1), p2 $(agent_presence p2)"
    e2e_call alice parallel || e2e_fail "the call to the parallel group was not answered"
    e2e_expect_invite p3 "^sip:p3@127\.0\.0\.1"
    [ "$(e2e_count p1)$(e2e_count p2)" = 00 ] \
        || e2e_fail "a busy or away agent was rung: p1 $(e2e_count p1), p2 $(e2e_count p2)"
    publish p1 open unknown
    publish p2 closed unknown
    for _ in $(seq 1 50); do
        [ "$(agent_presence p1) $(agent_presence p2)" = "available offline" ] && break
        sleep 0.1
    done
    [ "$(agent_presence p1) $(agent_presence p2)" = "available offline" ] \
        || e2e_fail "open/closed not taken: p1 $(agent_presence p1), p2 $(agent_presence p2)"
    e2e_log "ok: PUBLISHed presence feeds the engine (busy, away not rung; open, closed)"
    ;;

rgs_handover)
    # The hand-over: 5,000 messages/s for 2 s from an RPC process to the match maker; all
    # arrive. The rate reached and the latency (p99) are printed, not asserted (a loaded
    # machine slows the sender: a timing assertion would flake); E2E_STRICT=1 checks both.
    start_kam
    out=$(e2e_kamcmd callroute.rgs.bench 5000 2) || e2e_fail "callroute.rgs.bench failed"
    echo "$out" >&2
    sent=$(sed -n 's/^[[:space:]]*sent: *//p' <<<"$out")
    recv=$(sed -n 's/^[[:space:]]*received: *//p' <<<"$out")
    rate=$(sed -n 's/^[[:space:]]*per_second: *//p' <<<"$out")
    p99=$(sed -n 's/^[[:space:]]*p99_us_below: *//p' <<<"$out")
    [ -n "$sent" ] && [ "$sent" = "$recv" ] || e2e_fail "sent $sent, received $recv"
    if [ "${E2E_STRICT:-0}" = 1 ]; then
        [ "$rate" -ge 4900 ] || e2e_fail "only $rate messages/s"
        [ "$p99" -le 1000 ] || e2e_fail "p99 hand-over $p99 us > 1 ms"
    fi
    e2e_log "ok: $sent messages at $rate/s handed over, p99 < $p99 us"
    ;;

*)
    e2e_fail "unknown case $case_name"
    ;;
esac
check_replay
check_tm_refs
e2e_log "PASS $case_name"
