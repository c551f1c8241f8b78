#!/usr/bin/env bash
# Which page size Kamailio's SIP workers decide on: Kamailio (examples/kamailio/kamailio.cfg,
# CHILDREN (4) SIP workers) on a generated plan (ROUTES 10000, RULES 1000, USERS 100000, the
# XML), its published image in RUNTIME_DIR; one callroute.reload, then CALLS (12) calls (to
# gateways that do not answer: each is decided by whichever worker takes it, which then adopts
# the image; a worker parks the plan it inherited until its first call), then for every
# Kamailio process that maps the image: the mapping's address, resident kB, the kB mapped by
# 2 MB entries (ShmemPmdMapped for tmpfs, FilePmdMapped for other file systems) and whether
# it is advised MADV_HUGEPAGE. Figures are printed, not asserted (docs/plan_pages.md).
#
#   tests/bench/plan_pages_kamailio.sh RUNTIME_DIR [BUILD_DIR]
set -euo pipefail
. "$(dirname "$0")/../e2e/lib.sh"

dir=${1:?usage: plan_pages_kamailio.sh RUNTIME_DIR [BUILD_DIR]}
build=$(cd "${2:-$E2E_TOP/build}" && pwd)
e2e_load_setup "$build"
export CALLROUTE_RUNTIME_DIR=$dir
mkdir -p "$CALLROUTE_RUNTIME_DIR"
"$build/plugin-api/callroute" bench --seconds 0.01 --save "$E2E_TMP/plan.xml" --generate \
    "routes=${ROUTES:-10000},rules=${RULES:-1000},users=${USERS:-100000}" >/dev/null
E2E_CHILDREN=${CHILDREN:-4} E2E_SHM=256 e2e_start_kamailio "$(e2e_ports 1)" "$E2E_TMP/plan.xml"
main=$(cat "$E2E_TMP/kamailio.pid")
e2e_kamcmd callroute.reload >/dev/null || e2e_fail "callroute.reload failed"
read -r caller number <"$E2E_TMP/plan.xml.numbers"
caller=${caller#sip:}
E2E_UAC_ARGS=(-timeout 2s)
for _ in $(seq "${CALLS:-12}"); do
    e2e_call "${caller%@*}" "$number" >/dev/null 2>&1 || true # unanswered: only the decision counts
done
echo "plan_pages_kamailio: runtime directory $dir ($(stat -f -c %T "$dir")), mappings of the image:"
for pid in $main $(ps -o pid= --ppid "$main"); do
    desc=$(e2e_kamcmd core.psx | tr -d '\n\t' | grep -o "PID: *$pid *DSC: [^}]*" | sed 's/.*DSC: *//' || true)
    awk -v pid="$pid" -v desc="${desc:-?}" '
        /^[0-9a-f]+-[0-9a-f]+ / { on = $0 ~ /callroute-.*\.plan/; if (on) { split($1, a, "-"); at = a[1] }; next }
        on && /^Rss:/ { rss = $2 } on && /^ShmemPmdMapped:/ { s = $2 } on && /^FilePmdMapped:/ { f = $2 }
        on && /^VmFlags:/ { printf "  %7d %-40s %s resident %7d kB, 2 MB-mapped %7d kB%s\n", pid,
                                   substr(desc, 1, 40), at, rss, s + f, $0 ~ / hg/ ? ", advised" : "" }' \
        "/proc/$pid/smaps"
done
e2e_stop_kamailio
