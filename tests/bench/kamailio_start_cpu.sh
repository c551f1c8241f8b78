#!/usr/bin/env bash
# Where the module's share of Kamailio's start-up goes (issue 14): the CPU every Kamailio task
# has used when the RPC first answers, with callroute and without it, alternated.
#
#   tests/bench/kamailio_start_cpu.sh ROUNDS LABEL=BUILD[:VAR=VALUE...] ...
#
# Each round starts Kamailio (examples/kamailio/kamailio.cfg, CHILDREN 8 SIP workers, the image
# PLAN as modparam "config", or a plan of ROUTES/RULES/USERS generated and compiled) once per
# LABEL with that build's module and library (VAR=VALUE exported for that start only), then once
# without the module (CR_BASELINE), and reads, as soon as the RPC answers (tests/bench/rpc_ready),
# /proc/PID/task/*/schedstat of the main process and of every process it forked, and the main
# process's minor page faults and threads. Each LABEL's runtime directory is started once
# unmeasured first, so every measured start is a restart. Prints per LABEL the mean over the
# rounds of: processes, CPU of all of them, of the main process, of the others, and of the
# median other process (ms), the main process's minor faults and threads. A measuring program:
# nothing is asserted.
set -euo pipefail
. "$(dirname "$0")/kamailio_start_lib.sh"
start_bench_setup start_cpu "$@"
out=$E2E_TMP/cpu.txt

# start LABEL BUILD VARS [kamailio args]: one start; its line appended to $out unless LABEL is "-"
start() {
    local label=$1 build=$2 vars=$3 kv port
    shift 3
    port=$(e2e_ports 1)
    (
        export CALLROUTE_RUNTIME_DIR=$root/${label#-}
        for kv in $vars; do export "${kv?}"; done
        mkdir -p "$CALLROUTE_RUNTIME_DIR"
        export CR_MODULE=$build/plugin-api/kamailio/callroute.so
        export CR_LIBRARY=$build/plugin-api/libcallroute.so.1
        E2E_READY_PROBE=$first/tests/bench/rpc_ready E2E_CHILDREN=${CHILDREN:-8} E2E_SHM=256 \
            e2e_start_kamailio "$port" "$PLAN" "$@" >/dev/null
        python3 - "$E2E_KAM_PID" "$label" >>"$out" <<'PY'
import os, sys
main, label = int(sys.argv[1]), sys.argv[2]
def stat(p):
    return open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
def ppid(p):
    try:
        return int(stat(p)[1])
    except (OSError, IndexError, ValueError):
        return -1
def cpu_ms(p):
    ns = 0
    for t in os.listdir(f"/proc/{p}/task"):
        try:
            ns += int(open(f"/proc/{p}/task/{t}/schedstat").read().split()[0])
        except (OSError, ValueError):
            pass
    return ns / 1e6
pids = [int(p) for p in os.listdir("/proc") if p.isdigit()]
family = [p for p in pids if p == main or ppid(p) == main]
others = sorted(cpu_ms(p) for p in family if p != main)
main_ms = cpu_ms(main)
faults = int(stat(main)[7])
threads = len(os.listdir(f"/proc/{main}/task"))
if not label.startswith("-"):
    print(label, len(family), main_ms + sum(others), main_ms, sum(others),
          others[len(others) // 2] if others else 0, faults, threads)
PY
        e2e_stop_kamailio >/dev/null 2>&1
    )
}

for i in "${!labels[@]}"; do # the stamps: every measured start is a restart
    start "-${labels[$i]}" "${builds[$i]}" "${varss[$i]}"
done
for r in $(seq 1 "$ROUNDS"); do
    for i in "${!labels[@]}"; do
        start "${labels[$i]}" "${builds[$i]}" "${varss[$i]}"
    done
    start baseline "$first" "" -A 'CR_BASELINE="sip:127.0.0.1:9"'
done
python3 - "$out" "${labels[@]}" baseline <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1])]
for label in sys.argv[2:]:
    mine = [[float(x) for x in r[1:]] for r in rows if r[0] == label]
    if not mine:
        continue
    m = [sum(c) / len(mine) for c in zip(*mine)]
    print(f"{label:9s} processes {m[0]:.1f}, CPU {m[1]:.1f} ms: main {m[2]:.1f}, the others"
          f" {m[3]:.1f} (median {m[4]:.2f}); main minor faults {m[5]:.0f}, threads {m[6]:.1f}"
          f" (mean of {len(mine)})")
PY
