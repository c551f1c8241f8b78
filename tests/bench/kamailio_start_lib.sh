# Sourced by kamailio_start_ab.sh and kamailio_start_cpu.sh (issue 14): what both do before
# their rounds.
#
#   start_bench_setup NAME ROUNDS LABEL=BUILD[:VAR=VALUE...] ...
#
# Checks the arguments (ROUNDS, at least one LABEL), loads tests/e2e/lib.sh with the first
# LABEL's build ($first), makes the runtime root ($root, /dev/shm/callroute-NAME.XXXXXX, removed
# on exit with every process started under $E2E_TMP), generates and compiles a plan of
# ROUTES/RULES/USERS unless PLAN names an image, and fills labels[], builds[] and varss[] (each
# LABEL's VAR=VALUE settings, space-separated).
start_bench_setup() {
    local name=$1 v spec vars
    ROUNDS=${2:-}
    shift 2 || true
    if [ -z "$ROUNDS" ] || [ $# -eq 0 ]; then
        echo "usage: kamailio_$name.sh ROUNDS LABEL=BUILD[:VAR=VALUE...] ..." >&2
        exit 2
    fi
    . "$(dirname "${BASH_SOURCE[0]}")/../e2e/lib.sh"
    first=${1#*=}
    first=$(cd "${first%%:*}" && pwd)
    e2e_load_setup "$first"
    root=$(mktemp -d "/dev/shm/callroute-$name.XXXXXX")
    # `|| true`: under set -e a pkill that finds nothing would end the trap before the rm
    trap 'pkill -9 -f "$E2E_TMP" 2>/dev/null || true; rm -rf "$root"; e2e_cleanup' EXIT
    if [ -z "${PLAN:-}" ]; then
        "$first/plugin-api/callroute" bench --generate \
            "routes=${ROUTES:-100000},rules=${RULES:-1000},users=${USERS:-100000}" --seconds 0.01 \
            --save "$E2E_TMP/plan.xml" >/dev/null
        "$first/plugin-api/callroute" compile --config "$E2E_TMP/plan.xml" \
            -o "$E2E_TMP/plan.plan" >/dev/null
        PLAN=$E2E_TMP/plan.plan
    fi
    labels=() builds=() varss=()
    for v in "$@"; do
        spec=${v#*=} vars=""
        [[ $spec == *:* ]] && vars=$(tr ':' ' ' <<<"${spec#*:}")
        labels+=("${v%%=*}")
        builds+=("$(cd "${spec%%:*}" && pwd)")
        varss+=("$vars")
    done
}
