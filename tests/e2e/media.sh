#!/usr/bin/env bash
# End-to-end cases of response-group media through rtpengine (issue 13): Debian's Kamailio
# with examples/kamailio/kamailio.cfg and the callroute module, its own rtpengine (userspace,
# loopback, a random port range, killed at the end), sipp callers and agents that send RTP.
# Fixture: fixtures/media.xml; prompts and music are WAVs generated here (media_tool.py).
#   CR_MODULE=.../callroute.so CR_LIBRARY=.../libcallroute.so.1 tests/e2e/media.sh CASE
# Cases: media_welcome media_mid_prompt_hangup media_off media_ivr_menu media_ivr_invalid
#        media_ivr_pin media_ivr_refused media_after_hours media_ivr_transfer media_ivr_voicemail
#        media_max_wait.
#        E2E_KEEP=1 keeps the scratch directory (logs, sipp traces, rtp.txt: every RTP datagram
#        to the caller and the agent).
# RTP is counted on lo with a raw socket (media_tool.py sniff: needs root).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

case_name=${1:?usage: media.sh CASE}
e2e_init
read -r KPORT PORT_D <<<"$(e2e_ports 2)"
read -r CMP AMP AMP2 <<<"$(e2e_media_ports 3)"
# rtpengine's control port and the module's DTMF port, reserved like the phones' (a port
# another test's rtpengine holds would answer our ping and carry our calls)
read -r NG DTMF <<<"$(e2e_media_ports1 2)"
PORT_A=0 PORT_B=0 PORT_C=0
XML=$E2E_TMP/media.xml
e2e_fixture "$E2E_DIR/fixtures/media.xml" "$XML"
sed "s/@PORT_D@/$PORT_D/g" "$E2E_DIR/fixtures/media_ivr.lua" >"$E2E_TMP/media_ivr.lua"
TOOL=$E2E_TOOL
CLI=${CR_CLI:-$(dirname "$CR_LIBRARY")/callroute}
MEDIA=$E2E_TMP/media
mkdir -p "$MEDIA"
$TOOL wav "$MEDIA/welcome.wav" 2 440
$TOOL wav "$MEDIA/moh.wav" 3 300
$TOOL wav "$MEDIA/long.wav" 8 500
$TOOL wav "$MEDIA/default.wav" 3 350
$TOOL wav "$MEDIA/menu.wav" 2 600
$TOOL wav "$MEDIA/invalid.wav" 1 700
$TOOL wav "$MEDIA/pin.wav" 1 800
$TOOL wav "$MEDIA/closed.wav" 1.5 900

start_rtpengine() { e2e_start_rtpengine "$NG" "$DTMF"; }

start_kam() {
    e2e_start_kamailio "$KPORT" "$XML" -A "CR_RGS_STATE=\"$E2E_TMP/rgs-state\"" \
        -A "CR_RGS_LOG=\"$E2E_TMP/queue.log\"" -A "CR_RGS_EVENTS=\"$E2E_TMP/events.txt\"" "$@"
}

# start_kam_media [extra kamailio args...]
start_kam_media() {
    start_kam -A "CR_RTPENGINE_SOCK=\"udp:127.0.0.1:$NG\"" \
        -A "CR_RTPENGINE_DTMF=\"127.0.0.1:$DTMF\"" -A "CR_MEDIA_DIR=\"$MEDIA\"" "$@"
}

# start_agent NAME SCENARIO [RTP-PORT]: a registered sipp phone (RTP on $AMP by default) for
# agent sip:NAME@contoso.com.
start_agent() { e2e_agent "$1" "$2" "${3:-$AMP}"; }

# caller NAME SCENARIO NUMBER: one call from sip:alice@contoso.com with RTP on $CMP.
caller() { e2e_media_call "$1" "$2" "$3" "$CMP"; }

# Every RTP datagram to the caller's and the agent's media ports, into rtp.txt.
start_sniffer() { e2e_sniff_start "$CMP" "$AMP"; }
stop_sniffer() { e2e_sniff_stop; }
msg_time() { e2e_msg_time "$@"; }
rtp() { e2e_rtp "$@"; }

# between N LOW HIGH WHAT: N within [LOW, HIGH] (floats), else the case fails.
between() {
    $E2E_PY -c "import sys; sys.exit(0 if $2 <= $1 <= $3 else 1)" && return 0
    # what reached the sniffed ports, per second, source port and payload type (to tell a
    # second stream from a late one)
    [ -s "$E2E_TMP/rtp.txt" ] && awk '{ printf "%d dst %s src %s pt %s\n", $1, $2, $3, $4 }' \
        "$E2E_TMP/rtp.txt" | sort | uniq -c | sed 's/^/rtp: /' >&2
    e2e_log "the media timeline: $(grep -v '^#' "$E2E_TMP/events.txt" 2>/dev/null | tr '\n' ';')"
    e2e_fail "$4: $1 not within [$2, $3]"
}

# No rtpengine session left (waits up to 3 s).
no_sessions() {
    local left
    for _ in $(seq 1 30); do
        left=$(e2e_rtpengine_sessions "$NG")
        [ -z "$left" ] && return 0
        sleep 0.1
    done
    e2e_fail "rtpengine sessions left: $left"
}

# The engine's input timeline: the time of the first EVENT of the call (seconds).
event_time() {
    awk -v ev="$1" '$2 == ev { print $1; exit }' "$E2E_TMP/events.txt"
}

# ivr_caller KEYS...: media_ivr_caller.xml pressing KEYS (e2e_ivr_caller). Prints its path.
ivr_caller() {
    e2e_ivr_caller "$E2E_TMP/ivr_caller.xml" "$@"
    echo "$E2E_TMP/ivr_caller.xml"
}

# talk_longer SCENARIO SECONDS: the scenario with SECONDS of talk before the BYE (not 4).
talk_longer() {
    sed "s/<pause milliseconds=\"4000\"\/>/<pause milliseconds=\"$(($2 * 1000))\"\/>/" "$1" \
        >"$1.long"
    grep -q "milliseconds=\"$(($2 * 1000))\"" "$1.long" || e2e_fail "cannot lengthen $1"
    echo "$1.long"
}

# The keys the engine got, in order (its timeline).
keys_fed() {
    awk '$2 == "dtmf" { printf "%s", $4 }' "$E2E_TMP/events.txt"
}

# played FILE: how many times the module played FILE (its log).
played() {
    grep -a -c "response groups: prompt $1 to" "$E2E_TMP/kamailio.log" || true
}

case $case_name in
media_welcome)
    # Welcome prompt (2 s) then music on hold until the agent (ringing 2 s) answers; media
    # both ways after the bridge; no session once the caller hung up.
    start_rtpengine
    start_kam_media
    start_agent mw1 media_agent.xml
    start_sniffer
    caller uac media_caller.xml welcome || e2e_fail "the call to the welcome workflow was not answered"
    stop_sniffer
    grep -a -q "^SIP/2.0 182" "$E2E_TMP/uac.msg" && e2e_fail "the caller got 182 Queued"
    t0=$(msg_time uac sent "^INVITE ") || e2e_fail "no INVITE in the caller's trace"
    t183=$(msg_time uac received "^SIP/2.0 183") || e2e_fail "the caller got no 183"
    t200=$(msg_time uac received "^SIP/2.0 200") || e2e_fail "the caller got no 200"
    tbye=$(msg_time uac sent "^BYE ") || e2e_fail "the caller sent no BYE"
    awk '/^SIP\/2.0 183/ { on = 1 } on && /^m=audio [0-9]+ RTP\/AVP/ { ok = 1 } END { exit !ok }' \
        "$E2E_TMP/uac.msg" || e2e_fail "the 183 has no SDP"
    d183=$($E2E_PY -c "print('%.0f' % (($t183 - $t0) * 1000))")
    between "$d183" 0 1000 "ms from the INVITE to the 183 (about 10 ms unloaded)"
    c0=$(event_time call) && pd=$(event_time prompt_done) || e2e_fail "no prompt_done in the timeline"
    dp=$($E2E_PY -c "print('%.3f' % ($pd - $c0))")
    between "$dp" 1.9 2.5 "seconds of the welcome prompt (prompt_done)"
    tp=$($E2E_PY -c "print($t183 + $dp)")
    n_prompt=$(rtp "$CMP" "$t183" "$tp")
    exp_prompt=$($E2E_PY -c "print('%.0f' % ($dp * 50))")
    between "$n_prompt" "$((exp_prompt * 85 / 100))" "$((exp_prompt * 105 / 100))" \
        "RTP packets of the welcome prompt at the caller (expected about $exp_prompt)"
    n_moh=$(rtp "$CMP" "$tp" "$t200")
    exp_moh=$($E2E_PY -c "print('%.0f' % (($t200 - $tp) * 50))")
    between "$n_moh" "$((exp_moh * 80 / 100))" "$((exp_moh * 110 / 100 + 5))" \
        "RTP packets of music on hold at the caller until the bridge (expected about $exp_moh)"
    a=$($E2E_PY -c "print($t200 + 0.5)")
    n_caller=$(rtp "$CMP" "$a" "$tbye")
    n_agent=$(rtp "$AMP" "$a" "$tbye")
    # g711a.pcap: 236 packets of 30 ms (7.05 s)
    exp_talk=$($E2E_PY -c "print('%.0f' % (min($tbye - $a, 7.05 - 0.5) * 236 / 7.05))")
    between "$n_caller" "$((exp_talk * 60 / 100))" "$((exp_talk * 110 / 100 + 5))" \
        "RTP packets from the agent at the caller after the bridge (expected about $exp_talk)"
    between "$n_agent" "$((exp_talk * 60 / 100))" "$((exp_talk * 110 / 100 + 5))" \
        "RTP packets from the caller at the agent after the bridge (expected about $exp_talk)"
    no_sessions
    e2e_log "ok: 183 after $d183 ms; prompt ${dp} s: $n_prompt packets (~$exp_prompt); music" \
        "until the bridge: $n_moh (~$exp_moh); after the bridge: caller $n_caller, agent" \
        "$n_agent (~$exp_talk each); no rtpengine session left"
    ;;

media_mid_prompt_hangup)
    # The caller hangs up 3 s into an 8 s welcome prompt: the rtpengine session goes, the
    # music stops, no agent ever rings. (3 s, not 1: the match maker starts the prompt after
    # the 183, and on a loaded machine that once took over a second: 0 packets before the
    # CANCEL.)
    start_rtpengine
    start_kam_media
    start_agent mp1 media_agent.xml
    start_sniffer
    caller uac media_cancel.xml midprompt || e2e_fail "the caller's CANCEL did not complete"
    tc=$(msg_time uac sent "^CANCEL ") || e2e_fail "the caller sent no CANCEL"
    grep -a -q "^SIP/2.0 183" "$E2E_TMP/uac.msg" || e2e_fail "the caller got no 183"
    grep -a -q "^SIP/2.0 487" "$E2E_TMP/uac.msg" || e2e_fail "the caller got no 487"
    no_sessions
    sleep 2.5
    stop_sniffer
    a=$($E2E_PY -c "print($tc + 0.5)")
    b=$($E2E_PY -c "print($tc + 2.5)")
    n_after=$(rtp "$CMP" "$a" "$b")
    [ "$n_after" = 0 ] || e2e_fail "$n_after RTP packets reached the caller after its CANCEL"
    n_before=$(rtp "$CMP" 0 "$tc")
    [ "$n_before" -ge 30 ] || e2e_fail "only $n_before packets of the prompt before the CANCEL"
    [ "$(e2e_count mp1)" = 0 ] || e2e_fail "the agent rang although the caller hung up mid-prompt"
    grep -a -q "prompt_done" "$E2E_TMP/events.txt" && e2e_fail "the prompt ended although cut"
    e2e_log "ok: $n_before packets of the prompt, none after the CANCEL; no session; no agent rang"
    ;;

media_after_hours)
    # Closed: the after-hours prompt (1.5 s) plays, then the call is refused (480).
    start_rtpengine
    start_kam_media
    start_sniffer
    sed "s/@EXPECT@/480/g" "$E2E_DIR/scenarios/media_reject.xml" >"$E2E_TMP/media_480.xml"
    caller uac "$E2E_TMP/media_480.xml" closed || e2e_fail "the closed workflow did not answer 480"
    stop_sniffer
    t183=$(msg_time uac received "^SIP/2.0 183") || e2e_fail "the caller got no 183"
    t480=$(msg_time uac received "^SIP/2.0 480") || e2e_fail "the caller got no 480"
    grep -a -q 'text="after_hours"' "$E2E_TMP/uac.msg" || e2e_fail "the 480 is not after_hours"
    # Counted from the capture (when each packet reached lo), not between the times sipp read
    # the 183 and the 480, which a starved sipp does late: every packet the caller got is the
    # prompt's (its session ends with the 480), about 1.5 s of them. The 480 came once the
    # prompt had played (sipp reading it late only lengthens the interval; rtpengine starting
    # late shortens it a little).
    read -r n first <<<"$(awk -v p="$CMP" '$2 == p && $4 >= 0 { n++; if (n == 1) f = $1 }
        END { printf "%d %s\n", n, (n ? f : 0) }' "$E2E_TMP/rtp.txt")"
    between "$n" 64 80 "RTP packets of the after-hours prompt at the caller (expected about 75)"
    d=$($E2E_PY -c "print('%.3f' % ($t480 - $first))")
    between "$d" 1.2 3.0 "seconds from the prompt's first packet to the 480 (the prompt lasts 1.5 s)"
    no_sessions
    e2e_log "ok: after hours: $n packets of the prompt, then 480 after $d s; no session left"
    ;;

media_off)
    # Without rtpengine_sock the same call gets 182 Queued and no media, as before.
    start_kam
    start_agent mw1 media_agent.xml
    caller uac media_caller.xml welcome || e2e_fail "the call to the welcome workflow was not answered"
    grep -a -q "^SIP/2.0 182" "$E2E_TMP/uac.msg" || e2e_fail "the caller got no 182 Queued"
    grep -a -q "^SIP/2.0 183" "$E2E_TMP/uac.msg" && e2e_fail "a 183 without rtpengine"
    grep -a -q "prompt_done" "$E2E_TMP/events.txt" || e2e_fail "the prompt did not count as played"
    e2e_log "ok: without rtpengine: 182 Queued, the prompt counts as played, answered"
    ;;

media_ivr_menu)
    # Key 2 in the menu: the Support queue's agent answers; Sales never rings.
    start_rtpengine
    start_kam_media
    start_agent ms1 media_agent.xml "$AMP2"
    start_agent ss1 media_agent.xml
    caller uac "$(ivr_caller 2)" menu || e2e_fail "the IVR call was not answered"
    [ "$(keys_fed)" = 2 ] || e2e_fail "the engine got keys '$(keys_fed)', not 2"
    [ "$(e2e_count ss1)" = 1 ] || e2e_fail "the Support agent did not ring"
    [ "$(e2e_count ms1)" = 0 ] || e2e_fail "the Sales agent rang"
    no_sessions
    grep -a -q "is an IVR that waits for keys and no rtpengine" "$E2E_TMP/kamailio.log" \
        && e2e_fail "an IVR was said to be refused with rtpengine configured"
    e2e_log "ok: key 2 reached the Support queue's agent; no session left"
    ;;

media_ivr_invalid)
    # Key 7 is not on the menu: invalid.wav, the menu again, then key 1: Sales.
    start_rtpengine
    start_kam_media
    start_agent ms1 media_agent.xml
    start_agent ss1 media_agent.xml "$AMP2"
    caller uac "$(ivr_caller 7 w2500 1)" menu || e2e_fail "the IVR call was not answered"
    [ "$(keys_fed)" = 71 ] || e2e_fail "the engine got keys '$(keys_fed)', not 71"
    [ "$(played invalid.wav)" = 1 ] || e2e_fail "invalid.wav played $(played invalid.wav) times"
    [ "$(played menu.wav)" = 2 ] || e2e_fail "the menu played $(played menu.wav) times, not 2"
    [ "$(e2e_count ms1)" = 1 ] || e2e_fail "the Sales agent did not ring"
    [ "$(e2e_count ss1)" = 0 ] || e2e_fail "the Support agent rang"
    no_sessions
    e2e_log "ok: key 7 replayed the menu after invalid.wav; key 1 reached Sales"
    ;;

media_ivr_pin)
    # Key 9 then a 4-digit PIN: collected, then the Support queue.
    start_rtpengine
    start_kam_media
    start_agent ss1 media_agent.xml
    caller uac "$(ivr_caller 9 1 2 3 4)" menu || e2e_fail "the IVR call was not answered"
    [ "$(keys_fed)" = 91234 ] || e2e_fail "the engine got keys '$(keys_fed)', not 91234"
    [ "$(e2e_count ss1)" = 1 ] || e2e_fail "the Support agent did not ring"
    "$CLI" simulate --config "$XML" "$E2E_TMP/events.txt" 2>/dev/null | grep -q " set pin 1234$" \
        || e2e_fail "the replayed timeline does not collect PIN 1234"
    no_sessions
    e2e_log "ok: PIN 1234 collected, then the Support queue"
    ;;

media_ivr_transfer | media_ivr_voicemail)
    # Key 3: the IVR transfers the call; key 4: it leaves it in a voicemail box. Either way
    # the media stops, the target answers through rtpengine, and the call lasts longer than
    # tm keeps the transaction (the call's record must stay until the BYE, which deletes the
    # session).
    if [ "$case_name" = media_ivr_transfer ]; then
        key=3 target=xfer what=transferred
    else
        key=4 target=vm what=voicemail
    fi
    start_rtpengine
    start_kam_media
    e2e_gateway "$target" "$PORT_D" media_agent.xml -mi 127.0.0.1 -mp "$AMP"
    e2e_wait_ports "$PORT_D"
    start_sniffer
    caller uac "$(talk_longer "$(ivr_caller $key)" 9)" menu || e2e_fail "the $what call failed"
    stop_sniffer
    [ "$(keys_fed)" = $key ] || e2e_fail "the engine got keys '$(keys_fed)', not $key"
    [ "$(e2e_count $target)" = 1 ] || e2e_fail "$target did not ring"
    e2e_expect_invite $target "^sip:$target@127\.0\.0\.1:$PORT_D"
    grep -a -q "response groups: call \[[0-9:]*\] $what to sip:$target@" "$E2E_TMP/kamailio.log" \
        || e2e_fail "no log line says the call was $what to $target"
    t200=$(msg_time uac received "^SIP/2.0 200") || e2e_fail "the caller got no 200"
    a=$($E2E_PY -c "print($t200 + 0.5)")
    b=$($E2E_PY -c "print($t200 + 4)")
    n_caller=$(rtp "$CMP" "$a" "$b")
    n_target=$(rtp "$AMP" "$a" "$b")
    [ "$n_caller" -ge 60 ] && [ "$n_target" -ge 60 ] \
        || e2e_fail "RTP after the $what call: caller $n_caller, $target $n_target (expected ~117 each)"
    no_sessions
    e2e_log "ok: key $key: $what to $target; RTP caller $n_caller, $target $n_target; the BYE" \
        "after 9 s deleted the session"
    ;;

media_max_wait)
    # rgs_max_wait 10 s (its least): nobody signs in to the group, the caller hears the welcome prompt and
    # music on hold, then tm's 408. Its rtpengine session ends with the 408 (within 2 s of the
    # caller reading it), not when tm frees the transaction (its wait timer, 5 s later), and
    # is deleted once (no second delete when tm frees the transaction).
    start_rtpengine
    start_kam_media -A CR_RGS_MAX_WAIT=10
    sed "s/@EXPECT@/408/g" "$E2E_DIR/scenarios/media_reject.xml" >"$E2E_TMP/media_408.xml"
    caller uac "$E2E_TMP/media_408.xml" maxwait || e2e_fail "the caller did not get 408 at rgs_max_wait"
    t408=$(msg_time uac received "^SIP/2.0 408") || e2e_fail "the caller got no 408"
    grep -a -q "^SIP/2.0 183" "$E2E_TMP/uac.msg" || e2e_fail "the caller got no 183 (no media)"
    [ "$(played welcome.wav)" = 1 ] || e2e_fail "the welcome prompt played $(played welcome.wav) times"
    cid=$(awk 'tolower($1) == "call-id:" { print $2; exit }' "$E2E_TMP/uac.msg" | tr -d '\r')
    [ -n "$cid" ] || e2e_fail "no Call-ID in the caller's trace"
    # sipp reading the 408 late (a loaded machine) only makes this wait shorter
    while :; do
        left=$(e2e_rtpengine_sessions "$NG") || e2e_fail "rtpengine did not list its sessions"
        [ -z "$left" ] && break
        late=$($E2E_PY -c "import time; print('%.2f' % (time.time() - $t408))")
        $E2E_PY -c "import sys; sys.exit(0 if $late < 2 else 1)" \
            || e2e_fail "rtpengine still has a session $late s after the 408: $left"
        sleep 0.1
    done
    gone=$($E2E_PY -c "import time; print('%.2f' % (time.time() - $t408))")
    # tm frees the transaction about 5 s after the 408 was ACKed: no second delete then
    sleep 6.5
    n=$(grep -a -c "rtpengine session of $cid deleted" "$E2E_TMP/kamailio.log" || true)
    [ "$n" = 1 ] || e2e_fail "the session of $cid was deleted $n times, not once"
    grep -a "rtpengine delete for $cid" "$E2E_TMP/kamailio.log" \
        && e2e_fail "a second delete of $cid was refused or failed"
    no_sessions
    e2e_log "ok: 408 at rgs_max_wait with media; no rtpengine session $gone s after it; deleted once"
    ;;

media_ivr_refused)
    # Without rtpengine an IVR that waits for keys is refused at once, with a log line, and
    # said so at start (issue 13: "refused with a clear log line at start"), once.
    start_kam
    n=$(grep -a -c "workflow 'Menu' (sip:menu@contoso.com) is an IVR that waits for keys and no rtpengine is configured (modparam rtpengine_sock): its calls are refused (480, no_ivr)" \
        "$E2E_TMP/kamailio.log" || true)
    [ "$n" = 1 ] || e2e_fail "the IVR without rtpengine was said $n times at start, not once"
    grep -a "is an IVR that waits for keys and no rtpengine is configured" "$E2E_TMP/kamailio.log" \
        | grep -v "'Menu'" | grep -q . && e2e_fail "a workflow that is no IVR was said to be one"
    start_agent ss1 media_agent.xml
    sed "s/@EXPECT@/480/g" "$E2E_DIR/scenarios/uac_reject.xml" >"$E2E_TMP/uac_480.xml"
    caller uac "$E2E_TMP/uac_480.xml" menu || e2e_fail "the IVR call was not refused with 480"
    grep -a -q "no_ivr" "$E2E_TMP/uac.msg" || e2e_fail "the 480 has no Reason no_ivr"
    grep -a -q "the workflow is an IVR that waits for keys and no rtpengine" \
        "$E2E_TMP/kamailio.log" || e2e_fail "no log line says why the IVR was refused"
    [ "$(e2e_count ss1)" = 0 ] || e2e_fail "an agent rang"
    e2e_log "ok: without rtpengine the IVR is refused (480, no_ivr) with a log line"
    ;;

*)
    e2e_fail "unknown case $case_name"
    ;;
esac
