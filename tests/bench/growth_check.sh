#!/bin/bash
# growth_check.sh CALLROUTE GROWTH: `growth` on two small generated plans (60 and 2,000 routes):
# both rounds printed, the JSON's fields, the route counts, the usage and load errors. No timing
# is checked (the figures are whatever this machine gives).
cr=$1 growth=$2
source "$(dirname "$0")/../cli/check_lib.sh"
"$cr" bench --generate routes=60,rules=12,users=300 --seconds 0.05 --save "$tmp/a.xml" >/dev/null ||
  bad "generate a"
"$cr" bench --generate routes=2000,rules=12,users=300 --seconds 0.05 --save "$tmp/b.xml" >/dev/null ||
  bad "generate b"
out=$("$growth" "$tmp/a.xml" "$tmp/b.xml" --seconds 0.1 --rounds 2 --numbers 500) || bad "text run: exit $?"
for l in "round 1 of 2: 60 routes p50 " "round 2 of 2: 60 routes p50 " ", 2000 routes p50 " \
  "small   60 routes: p50 " "large   2000 routes: p50 " "growth  "; do
  case "$out" in *"$l"*) ;; *) bad "text lacks: $l" ;; esac
done
out=$("$growth" "$tmp/a.xml" "$tmp/b.xml" --seconds 0.1 --rounds 2 --json) || bad "json run: exit $?"
python3 -c '
import json, sys
j = json.loads(sys.stdin.read())
assert list(j) == ["small", "large", "small_routes", "large_routes", "rounds", "small_p50_ns",
                   "large_p50_ns", "small_p99_ns", "large_p99_ns", "growth"], list(j)
assert j["small_routes"] == 60 and j["large_routes"] == 2000 and len(j["rounds"]) == 2
for r in j["rounds"]:
    assert list(r) == ["small_p50_ns", "large_p50_ns", "small_p99_ns", "large_p99_ns", "growth"]
    assert r["small_p50_ns"] > 0 and r["large_p50_ns"] > 0
    assert abs(r["growth"] - r["large_p50_ns"] / r["small_p50_ns"]) < 0.001
lo, hi = j["growth"]
assert lo <= hi and lo == min(r["growth"] for r in j["rounds"]), j["growth"]
' <<<"$out" || bad "json: $out"
"$growth" "$tmp/a.xml" >/dev/null 2>&1; [ $? = 2 ] || bad "one plan: want exit 2"
"$growth" "$tmp/a.xml" "$tmp/b.xml" --rounds 0 >/dev/null 2>&1; [ $? = 2 ] || bad "--rounds 0: want 2"
"$growth" "$tmp/a.xml" "$tmp/none.xml" >/dev/null 2>&1; [ $? = 1 ] || bad "missing plan: want exit 1"
: >"$tmp/c.xml.numbers"; cp "$tmp/a.xml" "$tmp/c.xml"
"$growth" "$tmp/a.xml" "$tmp/c.xml" >/dev/null 2>&1; [ $? = 1 ] || bad "no numbers: want exit 1"
[ $fail = 0 ] && echo "growth_check: all passed"
exit $((fail > 0))
