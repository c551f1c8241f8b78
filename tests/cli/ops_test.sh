#!/usr/bin/env bash
# Issue 16 (operators): the configuration schema and simulate --stats.
#   ops_test.sh CALLROUTE_BINARY SOURCE_DIR CASE
# Cases: luacheck (.luacheckrc on the example IVRs), schema (check validates structure first), schema_files (every example and fixture
# validates with xmllint --relaxng), stats (simulate --stats: averages, service level, agents),
# max_wait (check --max-wait: queue timeouts longer than the proxy's rgs_max_wait).
set -u
cr=$1 src=$2 case=$3
rng=$src/schema/callroute.rng
contoso=$src/examples/contoso/contoso.xml
source "$(dirname "$0")/check_lib.sh"

case $case in
schema)
  cp "$src"/examples/contoso/*.xml "$tmp/"
  # a misspelt element: the schema names it with file:line; no semantic check runs on it
  sed 's/<gateway name="Red-GW1"/<gatway name="Red-GW1"/' "$contoso" > "$tmp/typo.xml"
  line=$(grep -n '<gatway' "$tmp/typo.xml" | cut -d: -f1)
  expect 2 "$cr" check --config "$tmp/typo.xml"
  has "typo.xml:$line: error: schema: Did not expect element gatway there" "misspelt element" "$err"
  hasnt "unknown gateway" "misspelt element (semantic errors after a schema error)" "$err"
  # a misspelt attribute, in a file without the namespace (validated as if it had it)
  sed -e 's/ xmlns="urn:callroute:config:1"//' -e 's/<gateway name="Red-GW1" address=/<gateway name="Red-GW1" adress=/' \
      "$contoso" > "$tmp/attr.xml"
  line=$(grep -n 'adress=' "$tmp/attr.xml" | cut -d: -f1)
  expect 2 "$cr" check --config "$tmp/attr.xml"
  has "attr.xml:$line: error: schema: Invalid attribute adress for element gateway" "misspelt attribute" "$err"
  # an error in an included file names that file
  sed "s/enterpriseVoice=/enterpriseVoise=/" "$src/examples/contoso/users.xml" > "$tmp/users.xml"
  expect 2 "$cr" check --config "$tmp/contoso.xml"
  has "users.xml:" "included file" "$err"
  has "error: schema:" "included file" "$err"
  # a valid file passes, with or without the namespace
  expect 0 "$cr" check --config "$contoso"
  sed 's/ xmlns="urn:callroute:config:1"//' "$src/tests/cli/semantics/pbx.xml" > "$tmp/nons.xml"
  expect 0 "$cr" check --config "$tmp/nons.xml"
  ;;
schema_files)
  command -v xmllint >/dev/null || { echo "SKIP: no xmllint"; exit 77; }
  n=0
  while IFS= read -r f; do
    # fuzz corpora hold broken files on purpose; tests/cli/broken files break semantics only
    case "$f" in */tests/fuzz/*) continue ;; esac
    grep -q '<callroute' "$f" || continue
    [ "$(basename "$f")" = not_well_formed.xml ] && continue
    n=$((n+1))
    if xmllint --noout --relaxng "$rng" "$f" >"$tmp/x" 2>&1; then ok
    else bad "$f does not validate:"; head -5 "$tmp/x"; fi
  done < <(find "$src/examples" "$src/tests" -name '*.xml' | sort)
  [ "$n" -ge 20 ] && ok || bad "only $n configuration files found"
  echo "validated $n files"
  ;;
stats)
  # serial.events: c1 answered after 15 s, c2 abandoned after 5 s, c3 answered after 14 s
  ev=$src/tests/rgs/serial.events rgs=$src/tests/rgs/rgs.xml
  expect 0 "$cr" simulate --config "$rgs" --stats "$ev"
  q=$(grep 'stats queue="Serial"' <<<"$out")
  # averages of answered and of abandoned calls, never mixed (the engine's average_wait is gone)
  has "answered=2 abandoned=1" "queue figures" "$q"
  has "average_answer_wait=14.500 average_abandon_wait=5.000" "queue averages" "$q"
  hasnt " average_wait=" "queue figures" "$q"
  # service level: answered within 20 s (default) over the calls that ended
  has "answered_within=2 service_level=66.7 service_level_s=20" "service level 20 s" "$q"
  expect 0 "$cr" simulate --config "$rgs" --stats --service-level 14 "$ev"
  has "answered_within=1 service_level=33.3 service_level_s=14" "service level 14 s" "$out"
  # a queue no call ended in has no service level
  has 'queue="Nobody" entered=0' "idle queue" "$out"
  has "answered_within=0 service_level=- service_level_s=14" "idle queue" "$(grep 'queue="Nobody"' <<<"$out")"
  # per agent: offers, answers, no answers, declines, ring time of the answers
  has "stats agent=sip:s1@contoso.com offered=2 answered=0 no_answer=1 declined=0 average_ring=0.000" "agent s1" "$out"
  has "stats agent=sip:s2@contoso.com offered=1 answered=1 no_answer=0 declined=0 average_ring=5.000" "agent s2" "$out"
  expect 0 "$cr" simulate --config "$rgs" --stats "$src/tests/rgs/decline.events"
  has "stats agent=sip:d1@contoso.com offered=2 answered=1 no_answer=0 declined=1 average_ring=3.000" "agent d1" "$out"
  # JSON: every line parses, the stats lines included
  expect 0 "$cr" simulate --config "$rgs" --stats --json "$ev"
  if python3 -c 'import json,sys; [json.loads(l) for l in sys.stdin if l.strip()]' <<<"$out"; then ok; else bad "--json --stats output does not parse"; fi
  has '"args":"agent=sip:s3@contoso.com offered=1' "json agent line" "$out"
  # without --stats nothing of it; --service-level alone or out of range is a usage error
  expect 0 "$cr" simulate --config "$rgs" "$ev"
  hasnt " stats " "no --stats" "$out"
  expect 2 "$cr" simulate --config "$rgs" --service-level 10 "$ev"
  has "--service-level needs --stats" "service level without stats" "$err"
  for v in 0 abc 86401 ""; do
    expect 2 "$cr" simulate --config "$rgs" --stats --service-level "$v" "$ev"
    has "is not a number of seconds" "--service-level '$v'" "$err"
  done
  ;;
max_wait)
  # check --max-wait S: a queue whose <timeout> is longer than the proxy lets a caller wait
  # (the Kamailio module's rgs_max_wait, default 600) gets a warning naming file:line and queue
  hd=$src/examples/workflows/helpdesk.xml
  line_hd=$(grep -n '<queue name="Helpdesk"' "$hd" | cut -d: -f1)
  line_da=$(grep -n '<queue name="Dallas"' "$hd" | cut -d: -f1)
  expect 0 "$cr" check --config "$hd" --max-wait 100
  has "helpdesk.xml:$line_hd: warning: queue 'Helpdesk': <timeout> of 300 s is longer than a caller may wait on the proxy (100 s: rgs_max_wait)" "check --max-wait 100" "$out"
  has "helpdesk.xml:$line_da: warning: queue 'Dallas': <timeout> of 120 s" "check --max-wait 100" "$out"
  hasnt "queue 'Reception': <timeout>" "check --max-wait 100 (Reception waits 60 s)" "$out"
  has "3 warnings)" "check --max-wait 100 summary (no <domains>, Helpdesk, Dallas)" "$out"
  expect 0 "$cr" check --config "$hd" --max-wait 120
  hasnt "queue 'Dallas': <timeout>" "check --max-wait 120 (a timeout equal to it is reached)" "$out"
  expect 0 "$cr" check --config "$hd"
  hasnt "<timeout> of" "check with the default 600 s" "$out"
  expect 0 "$cr" check --config "$hd" --max-wait 0
  hasnt "<timeout> of" "check --max-wait 0" "$out"
  expect 0 "$cr" check --config "$hd" --max-wait 100 --json
  has '"message": "<timeout> of 300 s is longer' "check --max-wait --json" "$out"
  for v in x -1 86401 ""; do
    expect 2 "$cr" check --config "$hd" --max-wait "$v"
    has "is not a number of seconds" "check --max-wait '$v'" "$err"
  done
  ;;
luacheck)
  # .luacheckrc describes the sandbox and the call/rg API: the example IVRs pass, typos fail
  command -v luacheck >/dev/null || { echo "SKIP: no luacheck (Debian package lua-check)"; exit 77; }
  cd "$src" || exit 2
  expect 0 luacheck --no-color --config .luacheckrc examples/workflows/*.lua
  has "0 warnings / 0 errors" "luacheck of the examples" "$out"
  printf 'call:paly("welcome.wav")\nif rg.is_opne() then call:queue() end\nio.write("x")\n' > "$tmp/typo.lua"
  expect 1 luacheck --no-color --config .luacheckrc "$tmp/typo.lua"
  has "typo.lua:1:1: accessing undefined field 'paly' of global 'call'" "misspelt method" "$out"
  has "accessing undefined field 'is_opne' of global 'rg'" "misspelt rg function" "$out"
  has "typo.lua:3:1: accessing undefined variable 'io'" "no io in the sandbox" "$out"
  ;;
*) echo "unknown case $case"; exit 2 ;;
esac
check_done "$case"
