#!/usr/bin/env bash
# The load test's checker (rgs_load_check.py) accepts a clean log and catches each kind of
# fault: a call without an end, a call bridged twice, an agent offered while on a call, a
# call served out of order.
set -euo pipefail
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
chk=$(dirname "$0")/rgs_load_check.py
good='0.100 enter call=c1 queue="Q"
0.100 offered call=c1 queue="Q" agent=sip:a@x
0.200 enter call=c2 queue="Q"
0.200 offered call=c2 queue="Q" agent=sip:b@x
1.000 connected call=c1 queue="Q" agent=sip:a@x wait=0.900
1.500 connected call=c2 queue="Q" agent=sip:b@x wait=1.300
1.600 enter call=c3 queue="Q"
12.000 timeout call=c3 queue="Q" wait=10.400'
events='# start 0
3.000 agent_hangup c1'
printf '%s\n' "$events" >"$dir/ev"
expect() { # expect RC NAME LOG
    printf '%s\n' "$3" >"$dir/log"
    rc=0
    python3 "$chk" "$dir/log" "$dir/ev" >/dev/null 2>"$dir/err" || rc=$?
    [ "$rc" = "$1" ] || { cat "$dir/err"; echo "FAIL: $2 (exit $rc)"; exit 1; }
    echo "ok: $2"
}
expect 0 "a clean log" "$good"
expect 1 "a call without an end" "$(grep -v 'timeout call=c3' <<<"$good")"
expect 1 "a call bridged twice" "$good
2.000 connected call=c2 queue=\"Q\" agent=sip:b@x wait=1.8"
expect 1 "an agent offered while on a call" "$good
2.500 enter call=c4 queue=\"Q\"
2.500 offered call=c4 queue=\"Q\" agent=sip:a@x
2.600 connected call=c4 queue=\"Q\" agent=sip:a@x wait=0.1"
expect 0 "an agent offered after its call ended" "$good
3.500 enter call=c4 queue=\"Q\"
3.500 offered call=c4 queue=\"Q\" agent=sip:a@x
3.600 connected call=c4 queue=\"Q\" agent=sip:a@x wait=0.1"
expect 1 "first in, first out broken" "0.100 enter call=c1 queue=\"Q\"
0.200 enter call=c2 queue=\"Q\"
0.300 offered call=c2 queue=\"Q\" agent=sip:b@x
0.400 offered call=c1 queue=\"Q\" agent=sip:a@x
1.000 connected call=c1 queue=\"Q\" agent=sip:a@x wait=0.9
1.000 connected call=c2 queue=\"Q\" agent=sip:b@x wait=0.8"
