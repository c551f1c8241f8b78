#!/usr/bin/env bash
# Plan memory and start-up of Kamailio with callroute against Kamailio without it (issue 14).
#
#   tests/bench/kamailio_plan_memory.sh [BUILD_DIR]
#
# Generates one plan (ROUTES 100000, RULES 1000, USERS 100000), compiles its image, then
# RUNS (3) times, alternating: Kamailio with examples/kamailio/kamailio.cfg and CHILDREN (8)
# SIP workers loading the plan (FORMAT plan: the image, or xml: the XML), and the same
# configuration with CR_BASELINE defined (the module is not loaded). For each start it prints
# the start-up time (until the RPC answers: PROBE=rpc_ready, the default, waits for the ctl socket
# to be created, then asks every 0.1 ms from tests/bench/rpc_ready; PROBE=shell asks with kamcmd every 10 ms, in steps of about 11 ms), the
# sum of Pss over every Kamailio process (/proc/PID/smaps_rollup, after SETTLE seconds), the
# number of processes, how many of them map a published plan image, and the CPU time all of
# Kamailio's processes and threads had used when the RPC first answered (from schedstat: a
# figure other load on the machine does not stretch, unlike the start-up time). Figures are printed,
# not asserted; the last lines give min-max per setup and the plan's own size (the image file)
# for comparison. With RELOAD=1 (the
# default) each run with callroute then calls callroute.reload (the RPC returns once every SIP
# worker decides with the new plan) and measures the sum of Pss again: after a reload every
# process adopts the published image in place, so the plan should still count about once.
# With an image (FORMAT plan) the main process reads the admin's file in place under a lease
# and checks its records only when no stamp of that very file is in the runtime directory
# (README "Memory and start-up in Kamailio"): STAMP=1 (the default) starts once unmeasured
# first (that start writes the stamp), so every measured start is a restart; STAMP=0 removes
# the stamp before each start with callroute, so every measured start is a first start.
set -euo pipefail
. "$(dirname "$0")/../e2e/lib.sh"

build=$(cd "${1:-$E2E_TOP/build}" && pwd)
CLI=$build/plugin-api/callroute
ROUTES=${ROUTES:-100000}
RULES=${RULES:-1000}
USERS=${USERS:-100000}
CHILDREN=${CHILDREN:-8}
RUNS=${RUNS:-3}
FORMAT=${FORMAT:-plan}
SETTLE=${SETTLE:-3}
RELOAD=${RELOAD:-1}
STAMP=${STAMP:-1}
PROBE=${PROBE:-rpc_ready}

e2e_load_setup "$build"
# published images where a host keeps them: in memory (tmpfs), not on /tmp's disk
if [ -w /dev/shm ]; then
    CALLROUTE_RUNTIME_DIR=$(mktemp -d /dev/shm/callroute-bench.XXXXXX)
    trap 'rm -rf "$CALLROUTE_RUNTIME_DIR"; e2e_cleanup' EXIT
else
    CALLROUTE_RUNTIME_DIR=$E2E_TMP/run
fi
export CALLROUTE_RUNTIME_DIR
mkdir -p "$CALLROUTE_RUNTIME_DIR"
"$CLI" bench --generate "routes=$ROUTES,rules=$RULES,users=$USERS" --seconds 0.01 \
    --save "$E2E_TMP/plan.xml" >/dev/null
"$CLI" compile --config "$E2E_TMP/plan.xml" -o "$E2E_TMP/plan.plan" >/dev/null
config=$E2E_TMP/plan.$FORMAT
image_kb=$(($(stat -c %s "$E2E_TMP/plan.plan") / 1024))

# pids: the main process and everything below it
kam_pids() {
    local todo=("$1") pid
    while [ ${#todo[@]} -gt 0 ]; do
        pid=${todo[0]}
        todo=("${todo[@]:1}")
        echo "$pid"
        # shellcheck disable=SC2207
        todo+=($(ps -o pid= --ppid "$pid" 2>/dev/null || true))
    done
}

# pss_sum MAIN: sets pss (kB, summed), n (processes) and mapped (processes mapping a plan image)
pss_sum() {
    local pid v
    pss=0 n=0 mapped=0
    for pid in $(kam_pids "$1"); do
        v=$(awk '/^Pss:/ {print $2}' "/proc/$pid/smaps_rollup" 2>/dev/null || echo 0)
        pss=$((pss + ${v:-0}))
        [ "${VERBOSE:-0}" = 1 ] && echo "  $pid $(tr '\0' ' ' <"/proc/$pid/cmdline" | cut -c1-40) $(grep -E '^(Pss|Private_Dirty):' "/proc/$pid/smaps_rollup" | tr -s ' ' | tr '\n' ' ')" >&2
        n=$((n + 1))
        if grep -q 'callroute-.*\.plan' "/proc/$pid/maps" 2>/dev/null; then
            mapped=$((mapped + 1))
        fi
    done
}

# cpu_sum MAIN: sets cpu (ms): the CPU time every Kamailio process and thread has used so far
# (/proc/PID/task/TID/schedstat, nanoseconds), whatever else the machine runs meanwhile
cpu_sum() {
    local pid ns=0 v
    for pid in $(kam_pids "$1"); do
        v=$(cat /proc/"$pid"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {print s + 0}')
        ns=$((ns + ${v:-0}))
    done
    cpu=$(awk -v n="$ns" 'BEGIN {printf "%.1f", n / 1e6}')
}

# measure LABEL [kamailio args...]: prints "LABEL start_s pss_kb processes with_plan", and for
# callroute with RELOAD=1 the reload's RPC time and the Pss sum after it
measure() {
    local label=$1 t0 t1 t2 t3 port main pss n mapped after=""
    shift
    port=$(e2e_ports 1)
    [ "$STAMP" = 1 ] || rm -f "$CALLROUTE_RUNTIME_DIR"/callroute-stamp-*
    t0=$(date +%s.%N)
    if [ "$PROBE" = rpc_ready ]; then
        E2E_READY_PROBE=$build/tests/bench/rpc_ready E2E_CHILDREN=$CHILDREN E2E_SHM=256 \
            e2e_start_kamailio "$port" "$config" "$@"
        t1=$E2E_READY_AT
    else
        E2E_CHILDREN=$CHILDREN E2E_SHM=256 E2E_START_POLL=0.01 e2e_start_kamailio "$port" "$config" "$@"
        t1=$(date +%s.%N)
    fi
    main=$(cat "$E2E_TMP/kamailio.pid")
    cpu_sum "$main"
    local cpu0=$cpu
    sleep "$SETTLE"
    [ "${VERBOSE:-0}" = 1 ] && e2e_kamcmd core.psx | paste - - - | awk '{print "  " $0}' >&2
    pss_sum "$main"
    local pss0=$pss n0=$n mapped0=$mapped
    if [ "$label" = callroute ] && [ "$RELOAD" = 1 ]; then
        t2=$(date +%s.%N)
        e2e_kamcmd callroute.reload >/dev/null || e2e_fail "callroute.reload failed"
        t3=$(date +%s.%N)
        sleep "$SETTLE"
        pss_sum "$main"
        after=$(awk -v a="$t2" -v b="$t3" -v p="$pss" -v m="$mapped" \
            'BEGIN {printf "  reload %5.2f s  pss after %8.1f MB  mapping %2d", b - a, p / 1024, m}')
    fi
    e2e_stop_kamailio
    awk -v l="$label" -v a="$t0" -v b="$t1" -v p="$pss0" -v n="$n0" -v m="$mapped0" -v r="$after" -v c="$cpu0" \
        'BEGIN {printf "%-9s start %6.1f ms  pss %8.1f MB  processes %2d  mapping the plan %2d  cpu %6.1f ms%s\n", l, (b - a) * 1000, p / 1024, n, m, c, r}'
}

echo "plan_memory: $ROUTES routes, $RULES rules, $USERS users ($FORMAT), $CHILDREN SIP workers; image $((image_kb / 1024)) MB; STAMP=$STAMP PROBE=$PROBE"
out=$E2E_TMP/runs.txt
if [ "$STAMP" = 1 ] && [ "$FORMAT" = plan ]; then
    SETTLE=0 measure warmup >/dev/null
fi
for r in $(seq 1 "$RUNS"); do
    measure callroute | tee -a "$out"
    measure baseline -A 'CR_BASELINE="sip:127.0.0.1:9"' | tee -a "$out"
done
for l in callroute baseline; do
    grep "^$l " "$out" | awk -v l="$l" '{s=$3; p=$6; c=$15; if (NR == 1 || s < smin) smin = s; if (s > smax) smax = s;
        if (NR == 1 || p < pmin) pmin = p; if (p > pmax) pmax = p; if (NR == 1 || c < cmin) cmin = c; if (c > cmax) cmax = c}
        END {printf "%-9s start %.1f-%.1f ms, pss %.1f-%.1f MB, cpu until ready %.1f-%.1f ms\n", l, smin, smax, pmin, pmax, cmin, cmax}'
done
# start-up with callroute over the baseline started right after it, per run
paste -d' ' <(grep '^callroute ' "$out" | awk '{print $3}') <(grep '^baseline ' "$out" | awk '{print $3}') |
    awk '{r = $1 / $2; if (NR == 1 || r < rmin) rmin = r; if (r > rmax) rmax = r}
        END {printf "start-up  callroute / baseline %.2f-%.2fx per run\n", rmin, rmax}'
# a floor for the module's share: one copy of the image into the runtime directory (what the
# main process must do at least to own a copy nobody can rewrite), timed the same way
for _ in 1 2 3; do
    c0=$(date +%s.%N)
    cp "$E2E_TMP/plan.plan" "$CALLROUTE_RUNTIME_DIR/floor.copy"
    c1=$(date +%s.%N)
    rm -f "$CALLROUTE_RUNTIME_DIR/floor.copy"
    awk -v a="$c0" -v b="$c1" 'BEGIN {printf "%.1f\n", (b - a) * 1000}'
done | sort -n | awk '{v[NR] = $1} END {printf "floor     cp of the %s MB image into the runtime directory %s-%s ms\n", '"$((image_kb / 1024))"', v[1], v[NR]}'
if [ "$RELOAD" = 1 ]; then
    grep "^callroute .* reload " "$out" | awk '{for (i = 1; i <= NF; i++) {if ($i == "reload") r = $(i + 1);
        if ($i == "after") p = $(i + 1)} if (NR == 1 || r < rmin) rmin = r; if (r > rmax) rmax = r;
        if (NR == 1 || p < pmin) pmin = p; if (p > pmax) pmax = p}
        END {printf "reload    rpc %.2f-%.2f s, pss after it %.1f-%.1f MB\n", rmin, rmax, pmin, pmax}'
fi
