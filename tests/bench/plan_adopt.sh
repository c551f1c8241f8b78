#!/bin/bash
# plan_adopt on a generated plan: its image adopted in place against compiled again, decisions
# compared (plan_adopt exits 1 on any difference). Figures are printed, not asserted;
# ROUTES/RULES/USERS/ROUNDS in the environment make the plan larger.
#   plan_adopt.sh CALLROUTE PLAN_ADOPT
set -eu
cli=$1
adopt=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$cli" bench --generate "routes=${ROUTES:-3000},rules=${RULES:-100},users=${USERS:-3000}" \
    --seconds 0.05 --save "$tmp/plan.xml" > /dev/null
CALLROUTE_QUIET=1 "$cli" compile --config "$tmp/plan.xml" -o "$tmp/plan.plan" > /dev/null
"$adopt" --image "$tmp/plan.plan" --numbers "$tmp/plan.xml.numbers" --rounds "${ROUNDS:-3}" \
    ${JSON:+--json}
