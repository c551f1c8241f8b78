#!/bin/bash
# plan_share on a generated plan: 8 processes adopt its image copied and shared, and the image
# decides every call as the XML model does (plan_share exits 1 on any difference). Figures are
# printed, not asserted: ROUTES/USERS in the environment make the plan larger.
#   plan_share.sh CALLROUTE PLAN_SHARE
set -eu
cli=$1
share=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
routes=${ROUTES:-5000}
users=${USERS:-10000}
"$cli" bench --generate "routes=$routes,rules=100,users=$users" --seconds 0.05 \
    --save "$tmp/plan.xml" > /dev/null
"$share" --config "$tmp/plan.xml" --numbers "$tmp/plan.xml.numbers" --procs "${PROCS:-8}" \
    --seconds "${SECONDS_:-0.5}" ${JSON:+--json}
