#!/usr/bin/env bash
# Kamailio with callroute against Kamailio's own modules on the same routing plan (issue 4):
#
#   tests/bench/kamailio_compare.sh [BUILD_DIR]      (default BUILD_DIR: build/)
#
# 1. Plan: tests/bench/kamailio/gen_plan.py writes one NANP-like plan twice, as callroute XML
#    and as db_text tables for dialplan (normalization), drouting and lcr (routes) and htable
#    (callers); see its header for the contents and size.
# 2. Equivalence, before measuring: CMP_VERIFY (600) calls with callers and numbers from the
#    plan (routed, blocked and unknown callers) through each setup of
#    tests/bench/kamailio/compare.cfg with decision logging; every decision (status,
#    normalized number, first and backup gateway) must equal the plan model's, and so must
#    callroute's own `route --batch` on the same numbers. Any mismatch stops the script.
# 3. Ceiling: the setups run side by side (idle while not driven); sipp places calls from
#    calls.csv at rising rates (CMP_RATES, CMP_STEP_S seconds each), alternating the setups
#    at each rate, CMP_ROUNDS rounds. A step passes when every call was answered, none
#    failed, and sipp kept the rate (finished within CMP_STEP_S + 1.5 s); a setup's ceiling is
#    the highest passing rate in any round (best of N). Stateful, record-routed,
#    INVITE/200/ACK/BYE/200 to a sipp gateway; everything shares the machine's cores.
# 4. Instructions per INVITE: each setup with one worker under valgrind --tool=callgrind
#    (--trace-children=yes): CMP_CG_WARM calls, counters zeroed (callgrind_control -z), then
#    CMP_CG_CALLS calls at CMP_CG_RATE calls/s, a pause for tm's wait timer to free them, a
#    dump; then an idle window of the same length, dumped too and subtracted. Reported per
#    call: the SIP worker's Ir (INVITE, 200, ACK, BYE, 200 of one call), all processes' Ir
#    (timers freeing transactions included), and the routing cost: all processes' Ir minus
#    those of the same config without a decision (-A CMP_BASE: a fixed gateway), i.e. the
#    decision plus its AVPs/XAVPs carried by the transaction. (Debian's modules keep no
#    symbols for static functions, so the native steps cannot be cut out of the profile by
#    name; callroute_route()'s own inclusive cost is printed too.) CMP_KEEP_CG=DIR keeps
#    the profiles.
#
# Memory manager: CMP_MEMMGR (tlsf; Debian's default q_malloc, "qm", spends most of a call
# in its free-list walk whichever setup runs, see tests/e2e/load.sh). Workers: CMP_CHILDREN
# (2). Setups: CMP_MODES ("callroute dr lcr"). CMP_CG=0 skips step 4, CMP_CEIL=0 step 3.
# Loopback only, random ports; everything started is stopped on exit (lib.sh's trap).
set -euo pipefail
. "$(dirname "$0")/../e2e/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
KD=$HERE/kamailio

build=$(cd "${1:-$E2E_TOP/build}" && pwd)
export CR_MODULE=${CR_MODULE:-$build/plugin-api/kamailio/callroute.so}
export CR_LIBRARY=${CR_LIBRARY:-$build/plugin-api/libcallroute.so.1}
CLI=${CLI:-$build/plugin-api/callroute}
CMP_MODES=${CMP_MODES:-callroute dr lcr}
CMP_RATES=${CMP_RATES:-500 1000 1500 2000 2500 3000 3500 4000 5000}
CMP_STEP_S=${CMP_STEP_S:-3}
CMP_ROUNDS=${CMP_ROUNDS:-2}
CMP_CHILDREN=${CMP_CHILDREN:-2}
CMP_MEMMGR=${CMP_MEMMGR:-tlsf}
CMP_USERS=${CMP_USERS:-1000}
CMP_SPLIT_NPAS=${CMP_SPLIT_NPAS:-2}
CMP_VERIFY=${CMP_VERIFY:-600}
CMP_CG=${CMP_CG:-1}
CMP_CEIL=${CMP_CEIL:-1}
CMP_CG_WARM=${CMP_CG_WARM:-20}
CMP_CG_CALLS=${CMP_CG_CALLS:-200}
CMP_CG_RATE=${CMP_CG_RATE:-20}
CMP_CG_WAIT=${CMP_CG_WAIT:-7}
CMP_SHM=${CMP_SHM:-256}

e2e_init
for t in python3 valgrind callgrind_control callgrind_annotate; do
    command -v "$t" >/dev/null || e2e_fail "$t not installed"
done
[ -x "$CLI" ] || e2e_fail "callroute CLI not found at $CLI"

define_of() {
    case $1 in
    callroute) echo CMP_CALLROUTE ;;
    dr) echo CMP_DR ;;
    lcr) echo CMP_LCR ;;
    base) echo CMP_BASE ;;
    *) e2e_fail "unknown setup $1 (callroute, dr, lcr)" ;;
    esac
}
label_of() {
    case $1 in
    callroute) echo "callroute (callroute_route)" ;;
    dr) echo "dialplan + drouting" ;;
    lcr) echo "dialplan + lcr" ;;
    base) echo "no routing (fixed gateway)" ;;
    esac
}

# ---- the plan and its gateways ----
read -r PORT_A PORT_B <<<"$(e2e_ports 2)"
PLAN=$E2E_TMP/plan
plan_desc=$(python3 "$KD/gen_plan.py" "$PLAN" "$PORT_A" "$PORT_B" --users "$CMP_USERS" \
    --split-npas "$CMP_SPLIT_NPAS" --verify "$CMP_VERIFY")
echo "compare: $plan_desc"
echo "compare: Kamailio $("$KAMAILIO" -v | head -n 1 | awk '{print $3}'), $CMP_CHILDREN workers, -x $CMP_MEMMGR, sipp $("$SIPP" -v 2>&1 | grep -o 'v[0-9.]*' | head -n 1), $(nproc) CPU(s)"
E2E_TRACE=0 e2e_gateway gwA "$PORT_A" gw_load.xml -max_recv_loops 10000
E2E_TRACE=0 e2e_gateway gwB "$PORT_B" gw_load.xml -max_recv_loops 10000
e2e_wait_ports "$PORT_A" "$PORT_B"

# kam_start TAG MODE PORT WAIT_S [kamailio -A args...]: starts compare.cfg for MODE in
# $E2E_TMP/TAG (log, pid, ctl socket), prefixed by the KAM_PREFIX array (valgrind), and waits
# until its RPC answers. Sets KAM_PID.
KAM_PREFIX=()
kam_start() {
    local tag=$1 mode=$2 port=$3 wait_s=$4 dir
    shift 4
    dir=$E2E_TMP/$tag
    mkdir -p "$dir"
    "${KAM_PREFIX[@]}" "$KAMAILIO" -DD -E -f "$KD/compare.cfg" -Y "$dir" -P "$dir/kamailio.pid" \
        -w "$dir" -m "$CMP_SHM" -M 16 -x "$CMP_MEMMGR" -A "$(define_of "$mode")" \
        -A "LISTEN=udp:127.0.0.1:$port" -A "CTL_SOCKET=\"unix:$dir/ctl\"" \
        -A "CMP_DB=\"text://$PLAN/db\"" -A "CR_MODULE=\"$CR_MODULE\"" \
        -A "CR_LIBRARY=\"$CR_LIBRARY\"" -A "CR_CONFIG=\"$PLAN/plan.xml\"" \
        -A "CMP_BASE_GW=\"sip:127.0.0.1:$PORT_A\"" "$@" \
        >>"$dir/kamailio.log" 2>&1 &
    KAM_PID=$!
    E2E_PIDS+=("$KAM_PID")
    echo "$KAM_PID" >"$dir/main.pid"
    local deadline=$((SECONDS + wait_s))
    while [ "$SECONDS" -lt "$deadline" ]; do
        kill -0 "$KAM_PID" 2>/dev/null || { tail -n 20 "$dir/kamailio.log" >&2; e2e_fail "$tag: kamailio exited at startup"; }
        if [ -S "$dir/ctl" ] && timeout 10 "$KAMCMD" -s "unix:$dir/ctl" core.uptime >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.3
    done
    e2e_fail "$tag: kamailio did not answer RPC within $wait_s s"
}
kam_stop() { # kam_stop PID [WAIT_S]
    local pid=$1 n=$((${2:-10} * 10))
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 "$n"); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# run_uac LABEL PORT SCENARIO CSV CALLS RATE LIMIT -> "answered failed seconds"
run_uac() {
    local label=$1 port=$2 scen=$3 csv=$4 calls=$5 rate=$6 limit=$7 out t0 t1 ok failed
    out=$E2E_TMP/uac-$label.out
    t0=$(date +%s.%N)
    timeout 300 "$SIPP" "127.0.0.1:$port" -sf "$scen" -inf "$csv" -m "$calls" -r "$rate" \
        -l "$limit" -i 127.0.0.1 -p "$(e2e_ports 1)" -t u1 -nostdin -max_recv_loops 10000 \
        -timeout 120s -trace_err -error_file "$E2E_TMP/uac-$label.err" >"$out" 2>&1 </dev/null || true
    t1=$(date +%s.%N)
    ok=$(awk -F'|' '/Successful call/ {gsub(/ /,"",$3); print $3}' "$out" | tail -n 1)
    failed=$(awk -F'|' '/Failed call/ {gsub(/ /,"",$3); print $3}' "$out" | tail -n 1)
    echo "${ok:-0} ${failed:-0} $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", b - a}')"
}

# ---- 2. equivalence ----
echo "compare: equivalence on $CMP_VERIFY calls (routed, blocked, unknown caller):"
printf 'compare:   %-30s ' "callroute route --batch"
python3 "$KD/check_equiv.py" cli "$PLAN/expected.txt" "$CLI" "$PLAN/plan.xml" \
    >"$E2E_TMP/equiv-cli.txt" || { cat "$E2E_TMP/equiv-cli.txt"; e2e_fail "callroute CLI disagrees with the plan"; }
cat "$E2E_TMP/equiv-cli.txt"
for mode in $CMP_MODES; do
    read -r port <<<"$(e2e_ports 1)"
    kam_start "verify-$mode" "$mode" "$port" 60 -A CMP_VERIFY -A "CMP_CHILDREN=$CMP_CHILDREN"
    read -r ok failed secs <<<"$(run_uac "verify-$mode" "$port" "$KD/uac_any.xml" \
        "$PLAN/verify.csv" "$CMP_VERIFY" 200 100)"
    kam_stop "$KAM_PID"
    printf 'compare:   %-30s ' "Kamailio, $(label_of "$mode")"
    python3 "$KD/check_equiv.py" log "$PLAN/expected.txt" "$E2E_TMP/verify-$mode/kamailio.log" \
        >"$E2E_TMP/equiv-$mode.txt" || { cat "$E2E_TMP/equiv-$mode.txt"; e2e_fail "$mode disagrees with the plan"; }
    cat "$E2E_TMP/equiv-$mode.txt"
done

declare -A CEIL CEIL_ROUNDS CG_WORKER CG_ALL CG_ROUTE

# ---- 3. ceilings ----
if [ "$CMP_CEIL" = 1 ]; then
    declare -A KPORT KPID FAILED_AT
    for mode in $CMP_MODES; do
        read -r KPORT[$mode] <<<"$(e2e_ports 1)"
        kam_start "ceil-$mode" "$mode" "${KPORT[$mode]}" 60 -A "CMP_CHILDREN=$CMP_CHILDREN"
        KPID[$mode]=$KAM_PID
        CEIL[$mode]=0
        CEIL_ROUNDS[$mode]=""
    done
    echo "compare: ceiling: rates $CMP_RATES calls/s, $CMP_STEP_S s each, $CMP_ROUNDS alternating rounds"
    for rate in $CMP_RATES; do
        calls=$((rate * CMP_STEP_S))
        line="compare:   $rate calls/s:"
        any=0
        for mode in $CMP_MODES; do
            [ -n "${FAILED_AT[$mode]:-}" ] && continue
            any=1
            passed=0 detail=""
            for round in $(seq 1 "$CMP_ROUNDS"); do
                read -r ok failed secs <<<"$(run_uac "ceil-$mode-$rate-$round" "${KPORT[$mode]}" \
                    "$KD/uac.xml" "$PLAN/calls.csv" "$calls" "$rate" $((rate * 2)))"
                pass=$(awk -v ok="$ok" -v f="$failed" -v n="$calls" -v s="$secs" -v r="$rate" \
                    -v st="$CMP_STEP_S" 'BEGIN {print (ok == n && f == 0 && s <= st + 1.5) ? 1 : 0}')
                detail="$detail ${ok}/${calls}ok,${failed}f,${secs}s"
                if [ "$pass" = 1 ]; then
                    passed=1
                    break
                fi
            done
            if [ "$passed" = 1 ]; then
                CEIL[$mode]=$rate
                line="$line  $mode pass($detail )"
            else
                FAILED_AT[$mode]=$rate
                line="$line  $mode FAIL($detail )"
            fi
            sleep 1
        done
        [ "$any" = 1 ] || break
        echo "$line"
    done
    for mode in $CMP_MODES; do
        kam_stop "${KPID[$mode]}"
    done
fi

# ---- 4. instructions per call under callgrind ----
cg_ir() { awk '/^summary:/ {print $2; exit}' "$1" 2>/dev/null || echo 0; }
if [ "$CMP_CG" = 1 ]; then
    echo "compare: callgrind: 1 worker, $CMP_CG_WARM warm-up calls, then $CMP_CG_CALLS calls at $CMP_CG_RATE calls/s (idle window subtracted)"
    for mode in base $CMP_MODES; do
        dir=$E2E_TMP/cg-$mode
        mkdir -p "$dir"
        read -r port <<<"$(e2e_ports 1)"
        KAM_PREFIX=(valgrind --tool=callgrind --trace-children=yes --dump-instr=no
            "--callgrind-out-file=$dir/cg.%p")
        kam_start "cg-$mode" "$mode" "$port" 300 -A "CMP_CHILDREN=1"
        KAM_PREFIX=()
        main=$KAM_PID
        # the worker: "udp receiver child=0" in core.psx
        worker=$(timeout 30 "$KAMCMD" -s "unix:$dir/ctl" core.psx |
            awk '/PID:/ {pid = $2} /DSC: udp receiver/ {print pid; exit}')
        [ -n "$worker" ] || e2e_fail "cg-$mode: no udp worker in core.psx"
        pids="$main $(ps -o pid= --ppid "$main" | tr '\n' ' ')"
        read -r ok failed secs <<<"$(run_uac "cg-warm-$mode" "$port" "$KD/uac.xml" \
            "$PLAN/calls.csv" "$CMP_CG_WARM" 10 20)"
        [ "$ok" = "$CMP_CG_WARM" ] || e2e_fail "cg-$mode: warm-up calls failed ($ok answered)"
        sleep "$CMP_CG_WAIT"
        # shellcheck disable=SC2086
        callgrind_control -z $pids >/dev/null 2>&1
        t0=$SECONDS
        read -r ok failed secs <<<"$(run_uac "cg-$mode" "$port" "$KD/uac.xml" \
            "$PLAN/calls.csv" "$CMP_CG_CALLS" "$CMP_CG_RATE" 50)"
        [ "$ok" = "$CMP_CG_CALLS" ] || e2e_fail "cg-$mode: $ok of $CMP_CG_CALLS calls answered under callgrind"
        sleep "$CMP_CG_WAIT"
        # shellcheck disable=SC2086
        callgrind_control --dump=calls $pids >/dev/null 2>&1
        window=$((SECONDS - t0))
        # shellcheck disable=SC2086
        callgrind_control -z $pids >/dev/null 2>&1
        sleep "$window"
        # shellcheck disable=SC2086
        callgrind_control --dump=idle $pids >/dev/null 2>&1
        sleep 1
        w_calls=$(cg_ir "$dir/cg.$worker.1")
        w_idle=$(cg_ir "$dir/cg.$worker.2")
        all_calls=0 all_idle=0
        for p in $pids; do
            all_calls=$((all_calls + $(cg_ir "$dir/cg.$p.1")))
            all_idle=$((all_idle + $(cg_ir "$dir/cg.$p.2")))
        done
        CG_WORKER[$mode]=$(((w_calls - w_idle) / CMP_CG_CALLS))
        CG_ALL[$mode]=$(((all_calls - all_idle) / CMP_CG_CALLS))
        # the routing step: what the setup costs beyond the fixed-gateway script (all
        # processes: the decision, its AVPs/XAVPs copied into the transaction and freed)
        CG_ROUTE[$mode]=$((CG_ALL[$mode] - ${CG_ALL[base]:-0}))
        callgrind_annotate --inclusive=yes --threshold=100 "$dir/cg.$worker.1" \
            >"$dir/annotate-worker.txt" 2>/dev/null || true
        extra=""
        if [ "$mode" = callroute ]; then
            fn=$(awk '/:w_callroute_route / {gsub(/,/, "", $1); print $1; exit}' "$dir/annotate-worker.txt")
            extra=" (callroute_route() itself: $((${fn:-0} / CMP_CG_CALLS)))"
        fi
        printf 'compare:   %-28s worker %9d Ir/call, all processes %9d Ir/call, routing %8d Ir/call%s\n' \
            "$(label_of "$mode")" "${CG_WORKER[$mode]}" "${CG_ALL[$mode]}" "${CG_ROUTE[$mode]}" "$extra"
        if [ -n "${CMP_KEEP_CG:-}" ]; then # keep the profiles (callgrind_annotate them)
            mkdir -p "$CMP_KEEP_CG/$mode"
            cp "$dir"/cg.* "$dir/annotate-worker.txt" "$CMP_KEEP_CG/$mode/"
            echo "$worker" >"$CMP_KEEP_CG/$mode/worker.pid"
        fi
        kam_stop "$main" 60
    done
fi

# ---- table ----
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf (b > 0 ? "%.2f" : "-"), a / b}'; }
echo
echo "compare: results ($plan_desc; -x $CMP_MEMMGR)"
printf '| %-28s | %15s | %16s | %17s | %16s |\n' "setup" "ceiling calls/s" "worker Ir/call" "all procs Ir/call" "routing Ir/call"
printf '|%s|%s|%s|%s|%s|\n' "------------------------------" "-----------------" "------------------" "-------------------" "------------------"
for mode in base $CMP_MODES; do
    [ "$mode" = base ] && [ "$CMP_CG" != 1 ] && continue
    printf '| %-28s | %15s | %16s | %17s | %16s |\n' "$(label_of "$mode")" "${CEIL[$mode]:--}" \
        "${CG_WORKER[$mode]:--}" "${CG_ALL[$mode]:--}" "${CG_ROUTE[$mode]:--}"
done
result=0
if [[ " $CMP_MODES " == *" callroute "* ]]; then
    for mode in $CMP_MODES; do
        [ "$mode" = callroute ] && continue
        printf 'compare: callroute vs %-20s ceiling x%s (callroute/native), Ir per call: worker x%s, all x%s, routing step x%s (native/callroute)\n' \
            "$(label_of "$mode"):" "$(ratio "${CEIL[callroute]:-0}" "${CEIL[$mode]:-0}")" \
            "$(ratio "${CG_WORKER[$mode]:-0}" "${CG_WORKER[callroute]:-0}")" \
            "$(ratio "${CG_ALL[$mode]:-0}" "${CG_ALL[callroute]:-0}")" \
            "$(ratio "${CG_ROUTE[$mode]:-0}" "${CG_ROUTE[callroute]:-0}")"
    done
fi
exit "$result"
