#!/bin/bash
# Plan images (issue 14): `check` and `route` answer the same from a configuration and from its
# compiled image, on every example configuration and on a generated plan; damaged or foreign
# images are refused with an error naming the file and what is wrong.
#   plan_image_test.sh CALLROUTE SOURCE_DIR
source "$(dirname "$0")/script_lib.sh"

numbers="911 5550100 50100 4255550100 14255550100 +14255550100 +12065550100 2065550100
912065550100 011442071234567 +442071234567 18005551212 +18005551212 123 0 +1 9911 *72 #"
printf '%s\n' $numbers > "$tmp/numbers"

# same_answers XML IMAGE FROM... : check, then route of every number for each caller
same_answers() {
    local xml=$1 img=$2
    shift 2
    "$cli" check --config "$xml" > "$tmp/a" 2>&1
    local ra=$?
    "$cli" check --config "$img" > "$tmp/b" 2>&1
    local rb=$?
    # messages name the source file (an image remembers where each object was written)
    sed -i -e "s#$xml#CONFIG#g" -e "s#$img#CONFIG#g" "$tmp/a" "$tmp/b"
    [ $ra = $rb ] && cmp -s "$tmp/a" "$tmp/b" || { fail "check differs for $xml"; diff "$tmp/a" "$tmp/b" | head; }
    for from in "$@"; do
        "$cli" route --config "$xml" --from "$from" --batch "$tmp/numbers" > "$tmp/a" 2>&1
        "$cli" route --config "$img" --from "$from" --batch "$tmp/numbers" > "$tmp/b" 2>&1
        cmp -s "$tmp/a" "$tmp/b" || { fail "route from $from differs for $xml"; diff "$tmp/a" "$tmp/b" | head -4; }
    done
}

n=0
while IFS= read -r xml; do
    "$cli" check --config "$xml" > /dev/null 2>&1 || continue # an include fragment
    img="$tmp/ex$n.plan"
    n=$((n + 1))
    "$cli" compile --config "$xml" -o "$img" > /dev/null || { fail "compile $xml"; continue; }
    froms=$(grep -o 'uri="sip:[^"]*"' "$xml" | sed 's/uri="//; s/"$//' | sort -u | head -6)
    same_answers "$xml" "$img" sip:nobody@contoso.com $froms
    # an image compiles again to the same image
    "$cli" compile --config "$img" -o "$img.2" > /dev/null && cmp -s "$img" "$img.2" ||
        fail "recompiling the image of $xml changed it"
done < <(find "$src/examples" -name '*.xml' | sort
          # the response-group fixtures: their response groups are compiled into the image
          ls "$src"/tests/rgs/*.xml "$src/tests/lua/lua.xml" "$src/tests/cli/semantics/rgs.xml" \
             "$src/tests/cli/workflow/lines.xml")
[ $n -ge 9 ] || fail "only $n example configurations compiled"

# response groups (issue 14): every scenario simulates the same from the image, which carries
# them compiled (no XML read back)
sims=0
for ev in "$src"/tests/rgs/*.events; do
    conf=$(sed -n 's/^#! config //p' "$ev")
    start=$(sed -n 's/^#! start //p' "$ev")
    [ -n "$conf" ] || continue
    img="$tmp/sim-${conf%.xml}.plan"
    [ -e "$img" ] || "$cli" compile --config "$src/tests/rgs/$conf" -o "$img" > /dev/null ||
        { fail "compile $conf"; continue; }
    args=(); [ -n "$start" ] && args=(--start "$start")
    # the actions and figures (stderr: the XML's lint warnings, which an image does not repeat)
    "$cli" simulate --config "$src/tests/rgs/$conf" "${args[@]}" --stats "$ev" > "$tmp/a" 2> /dev/null
    ra=$?
    "$cli" simulate --config "$img" "${args[@]}" --stats "$ev" > "$tmp/b" 2> /dev/null
    rb=$?
    [ $ra = $rb ] && [ -s "$tmp/a" ] && cmp -s "$tmp/a" "$tmp/b" ||
        { fail "simulate $(basename "$ev") differs"; diff "$tmp/a" "$tmp/b" | head -4; }
    sims=$((sims + 1))
done
[ $sims -ge 10 ] || fail "only $sims scenarios simulated from images"

# user plans: PBX coexistence (pbxIntegration) answers the same from the image
pbx=$src/tests/cli/semantics/pbx.xml
if "$cli" compile --config "$pbx" -o "$tmp/pbx.plan" > /dev/null; then
    for args in "--from sip:bob@contoso.com sip:alice@contoso.com" \
                "--gateway PBX --from +14255550199 +14255550100"; do
        "$cli" inbound --config "$pbx" $args > "$tmp/a" 2>&1
        "$cli" inbound --config "$tmp/pbx.plan" $args > "$tmp/b" 2>&1
        sed -i "s#$pbx#CONFIG#g" "$tmp/a"; sed -i "s#$tmp/pbx.plan#CONFIG#g" "$tmp/b"
        cmp -s "$tmp/a" "$tmp/b" || { fail "inbound $args differs for pbx.xml"; diff "$tmp/a" "$tmp/b" | head -4; }
    done
    "$cli" inbound --config "$tmp/pbx.plan" --from sip:bob@contoso.com sip:alice@contoso.com |
        grep -q "via PBX" || fail "the image lost pbxIntegration (no fork to the PBX)"
else
    fail "compile pbx.xml"
fi

# a generated plan (the Kamailio comparison's): its users and dialed numbers
python3 "$src/tests/bench/kamailio/gen_plan.py" "$tmp/gen" 5071 5072 --users 300 --calls 400 \
    --verify 0 > /dev/null || fail "gen_plan.py"
cut -d';' -f2 "$tmp/gen/calls.csv" | tail -n +2 | head -300 >> "$tmp/numbers"
"$cli" compile --config "$tmp/gen/plan.xml" -o "$tmp/gen.plan" > /dev/null || fail "compile generated"
same_answers "$tmp/gen/plan.xml" "$tmp/gen.plan" sip:u0000@contoso.com sip:u0001@contoso.com \
    sip:u0002@contoso.com sip:u0003@contoso.com

# damaged and foreign images: refused, naming the file and the fault, never a crash
img="$tmp/ex0.plan"
size=$(stat -c %s "$img")
refused() { # FILE PATTERN
    "$cli" check --config "$1" > "$tmp/out" 2>&1
    local rc=$?
    [ $rc = 1 ] || [ $rc = 2 ] || fail "$1: exit $rc (want 1 or 2)"
    grep -q -- "$1" "$tmp/out" && grep -qi -- "$2" "$tmp/out" ||
        { fail "$1: no '$2' in: $(cat "$tmp/out")"; }
}
head -c $((size - 8)) "$img" > "$tmp/trunc.plan"
refused "$tmp/trunc.plan" "truncated"
head -c 40 "$img" > "$tmp/short.plan"
refused "$tmp/short.plan" "truncated"
cp "$img" "$tmp/flip.plan"
printf '\x5a' | dd of="$tmp/flip.plan" bs=1 seek=$((size / 2)) conv=notrunc 2> /dev/null
cmp -s "$img" "$tmp/flip.plan" || refused "$tmp/flip.plan" "checksum"
cp "$img" "$tmp/version.plan"
printf '\x63' | dd of="$tmp/version.plan" bs=1 seek=16 conv=notrunc 2> /dev/null
refused "$tmp/version.plan" "version"
cp "$img" "$tmp/arch.plan"
printf '\x04' | dd of="$tmp/arch.plan" bs=1 seek=20 conv=notrunc 2> /dev/null
refused "$tmp/arch.plan" "architecture"
{ cat "$img"; printf 'x'; } > "$tmp/trail.plan"
refused "$tmp/trail.plan" "trailing"
# route and compile refuse them too
"$cli" route --config "$tmp/flip.plan" --from sip:a@contoso.com 911 > /dev/null 2>&1 &&
    fail "route accepted a damaged image"
"$cli" compile --config "$tmp/trunc.plan" -o "$tmp/x.plan" > /dev/null 2>&1 &&
    fail "compile accepted a damaged image"
[ -e "$tmp/x.plan" ] && fail "compile wrote an image of a damaged one"

[ $fail = 0 ] && echo "ok: $n configurations, $sims scenarios and a generated plan answer the same from their images"
exit $((fail > 0))
