#!/usr/bin/env bash
# Start-up of Kamailio with callroute, two builds and Kamailio without the module, alternated
# (issue 14): the way to compare a change's start-up on a noisy machine.
#
#   tests/bench/kamailio_start_ab.sh ROUNDS LABEL=BUILD[:VAR=VALUE...] ...
#
# Generates one plan (ROUTES 100000, RULES 1000, USERS 100000) and compiles its image (or uses
# PLAN, an image). Each round starts Kamailio (examples/kamailio/kamailio.cfg, CHILDREN 8 SIP
# workers, the image as modparam "config") once per LABEL with that build's module and library
# (VAR=VALUE settings exported for that start only), then once without the module (CR_BASELINE):
# the start-up is until the RPC answers (tests/bench/rpc_ready of the first build). Each LABEL has
# its own runtime directory, started once unmeasured first, so every measured start is a restart
# (its stamp written by that first start, as on a host). A LABEL's VAR=VALUE may name its own
# PLAN (the same plan elsewhere, e.g. on a tmpfs mounted with huge=within_size) and its own
# CALLROUTE_RUNTIME_DIR. Prints each round, then per LABEL the
# min, quartiles, median and max of the start-up and of its ratio to the same round's baseline.
# A measuring program: nothing is asserted.
set -euo pipefail
. "$(dirname "$0")/kamailio_start_lib.sh"
start_bench_setup start_ab "$@"

# start LABEL BUILD VARS [kamailio args]: one start, its milliseconds printed
start() {
    local label=$1 build=$2 vars=$3 kv port t0
    shift 3
    mkdir -p "$root/$label"
    port=$(e2e_ports 1)
    (
        export CALLROUTE_RUNTIME_DIR=$root/$label
        for kv in $vars; do export "${kv?}"; done # (PLAN and CALLROUTE_RUNTIME_DIR may be set)
        mkdir -p "$CALLROUTE_RUNTIME_DIR"
        export CR_MODULE=$build/plugin-api/kamailio/callroute.so
        export CR_LIBRARY=$build/plugin-api/libcallroute.so.1
        t0=$(date +%s.%N)
        E2E_READY_PROBE=$first/tests/bench/rpc_ready E2E_CHILDREN=${CHILDREN:-8} E2E_SHM=256 \
            e2e_start_kamailio "$port" "$PLAN" "$@"
        t1=$E2E_READY_AT
        e2e_stop_kamailio >/dev/null 2>&1
        awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", (b - a) * 1000}'
    )
}

for i in "${!labels[@]}"; do # the stamps: every measured start is a restart
    start "${labels[$i]}" "${builds[$i]}" "${varss[$i]}" >/dev/null
done
out=$E2E_TMP/rounds.txt
for r in $(seq 1 "$ROUNDS"); do
    line="round $r"
    for i in "${!labels[@]}"; do
        line="$line ${labels[$i]} $(start "${labels[$i]}" "${builds[$i]}" "${varss[$i]}")"
    done
    line="$line baseline $(start baseline "$first" "" -A 'CR_BASELINE="sip:127.0.0.1:9"')"
    echo "$line" | tee -a "$out"
done
python3 - "$out" "${labels[@]}" baseline <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
def q(xs):
    xs = sorted(xs); n = len(xs)
    return xs[0], xs[n // 4], statistics.median(xs), xs[(3 * n) // 4], xs[-1]
for label in sys.argv[2:]:
    ms = [float(r[r.index(label) + 1]) for r in rows]
    ratio = [float(r[r.index(label) + 1]) / float(r[r.index("baseline") + 1]) for r in rows]
    a, b = q(ms), q(ratio)
    print(f"{label:9s} start {a[0]:.1f} / {a[1]:.1f} / {a[2]:.1f} / {a[3]:.1f} / {a[4]:.1f} ms"
          f" (min / q1 / median / q3 / max); to the baseline {b[0]:.2f} / {b[1]:.2f} / {b[2]:.3f}"
          f" / {b[3]:.2f} / {b[4]:.2f}x")
PY
