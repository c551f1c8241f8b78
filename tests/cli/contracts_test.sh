#!/usr/bin/env bash
# Contract audit (SPEC §2, §5 and issues 15, 16) of the command line on inputs the other CLI
# tests do not try: one case per mismatch found and mended.
#   contracts_test.sh CALLROUTE_BINARY SOURCE_DIR CASE
# CASE: inbound_text, inbound_json, compile_status, users_json, dial_separators, normalize_json
set -u
cr=$1 src=$2 case=$3
x=$src/examples/contoso/contoso.xml
source "$(dirname "$0")/check_lib.sh"

case $case in
inbound_text)
  # Issue 16: "no raw JSON inside text output (inbound prints skipped features and
  # notifications as JSON today)". Notifications and skipped features read as text lines.
  expect 0 "$cr" inbound --config "$x" --from sip:x@fabrikam.com +14255550100
  has "notifications:" "notifications title" "$out"
  has "  delegate_answered: to sip:alice@contoso.com, answered by sip:carol@contoso.com" \
    "delegate notification" "$out"
  has "  team_call: to sip:bob@contoso.com, on behalf of sip:alice@contoso.com" \
    "team-call notification" "$out"
  hasnt '{"event"' "text output" "$out"
  hasnt '[{' "text output" "$out"
  p=$src/tests/cli/semantics/pbx.xml
  expect 0 "$cr" inbound --config "$p" --from sip:alice@contoso.com sip:carol@contoso.com
  has "skipped:" "skipped title" "$out"
  has "  simultaneous_ring: simultaneous ring sip:dave@contoso.com: skipped, 'sip:carol@contoso.com' is not enabled for Enterprise Voice" \
    "skipped line" "$out"
  hasnt '{"feature"' "text output" "$out"
  # --json keeps them as JSON
  expect 0 "$cr" inbound --config "$p" --from sip:alice@contoso.com sip:carol@contoso.com --json
  json "j['skipped'][0]['feature'] == 'simultaneous_ring'"
  ;;
inbound_json)
  # Issue 15: "callroute inbound --gateway must print the normalized calling number and the
  # P-Asserted-Identity it computed": with --json too, as the plan's "inbound" object.
  p=$src/tests/cli/semantics/pbx.xml
  expect 0 "$cr" inbound --config "$p" --gateway PSTN --from 5550199 +14255550100 --json
  json "j['inbound']['gateway'] == 'PSTN' and j['inbound']['called'] == '+14255550100'"
  json "j['inbound']['calling'] == '5550199'"
  json "j['inbound']['pai'] == '<sip:5550199;phone-context=enterprise@contoso.com;user=phone>'"
  json "j['callee'] == 'sip:alice@contoso.com' and len(j['ring']) > 0"
  expect 0 "$cr" inbound --config "$x" --gateway Red-GW1 --from tel:2065550123 5550100 --json
  json "j['inbound']['calling'] == '+12065550123' and j['inbound']['pai'] is None"
  # a number that is nobody's: exit 1, still one JSON object with what the gateway made of it
  expect 1 "$cr" inbound --config "$x" --gateway Red-GW1 --from tel:2065550123 +19995550100 --json
  json "j['callee'] is None and j['inbound']['called'] == '+19995550100'"
  # without --gateway there is no "inbound" object
  expect 0 "$cr" inbound --config "$x" --from sip:x@fabrikam.com +14255550100 --json
  json "'inbound' not in j"
  ;;
compile_status)
  # SPEC §5: exit 2 for a configuration error, as check gives for the same file.
  cp -r "$src/examples/contoso/." "$tmp/"
  sed -e 's|<gateway>NY-GW1</gateway>|<gateway>NY-GW9</gateway>|' "$x" >"$tmp/broken.xml"
  expect 2 "$cr" check --config "$tmp/broken.xml"
  expect 2 "$cr" compile --config "$tmp/broken.xml" -o "$tmp/broken.plan"
  has "unknown gateway 'NY-GW9'" "compile message" "$err"
  [ -e "$tmp/broken.plan" ] && bad "compile wrote a plan of a refused configuration" || ok
  expect 2 "$cr" compile --config "$tmp/missing.xml" -o "$tmp/m.plan"
  expect 0 "$cr" compile --config "$x" -o "$tmp/ok.plan"
  ;;
users_json)
  # SPEC §5 "JSON with --json"; issue 16: no option silently ignored.
  expect 0 "$cr" users import --db "$tmp/db" "$src/examples/contoso/users.xml"
  expect 0 "$cr" users list --db "$tmp/db" --json
  json "j['count'] == 9 and len(j['users']) == 9 and j['users'][0] == {'uri': 'sip:alice@contoso.com', 'line': 'tel:+14255550100;ext=50100'}"
  json "{'uri': 'sip:erin@contoso.com', 'line': None} in j['users']"
  expect 0 "$cr" users show --db "$tmp/db" sip:alice@contoso.com --json
  json "j['uri'] == 'sip:alice@contoso.com' and j['enterpriseVoice'] is True and j['noAnswerAfter'] == 20"
  json "j['teamCall'] == ['sip:bob@contoso.com'] and j['delegates'] == ['sip:carol@contoso.com'] and j['voicePolicy'] is None"
  expect 0 "$cr" users show --db "$tmp/db" sip:erin@contoso.com --json
  json "j['enterpriseVoice'] is False and j['line'] is None and j['teamCall'] == []"
  expect 1 "$cr" users show --db "$tmp/db" sip:nobody@contoso.com --json
  expect 0 "$cr" users remove --db "$tmp/db" sip:erin@contoso.com --json
  json "j['removed'] == 'sip:erin@contoso.com'"
  expect 0 "$cr" users list --db "$tmp/db" --json
  json "j['count'] == 8"
  # text stays text
  expect 0 "$cr" users list --db "$tmp/db"
  has "sip:alice@contoso.com tel:+14255550100;ext=50100" "list text" "$out"
  # export writes XML or CSV: --json is refused, not ignored
  expect 2 "$cr" users export --db "$tmp/db" --json
  has "--json does not apply" "export --json" "$err"
  ;;
dial_separators)
  # SPEC §2: visual separators (space, -, ., (, )) are removed from dialed strings first.
  for d in "425-555-0100" "(425) 555-0100" "425.555.0100" "9 425 555 0100"; do
    expect 0 "$cr" dial --config "$x" --profile Redmond.contoso.com "$d" --json
    json "j['answer'] == 'complete' and j['normalized'] == '+14255550100' and j['input'] == '''$d'''"
  done
  expect 0 "$cr" dial --config "$x" --profile Redmond.contoso.com "555-010"
  [ "$out" = need_more ] && ok || bad "dial 555-010: $out"
  # still only keypad digits: letters, '+', or nothing but separators are no match
  for d in "12a" "+1 425 555 0100" " - " ""; do
    expect 1 "$cr" dial --config "$x" --profile Redmond.contoso.com "$d"
    [ "$out" = no_match ] && ok || bad "dial '$d': $out"
  done
  ;;
normalize_json)
  # SPEC §5: every subcommand prints JSON with --json. A string that is not a phone number
  # exits 1 with the result's fields null and the reason, as route and dial answer it.
  expect 1 "$cr" normalize --config "$x" --profile Redmond.contoso.com 'a"bc' --json
  json "j['input'] == 'a\"bc' and j['profile'] == 'Redmond.contoso.com'"
  json "j['rule'] is None and j['normalized'] is None and 'not a phone number' in j['error']"
  has "not a phone number" "stderr" "$err"
  expect 1 "$cr" normalize --config "$x" '++1' --json
  json "j['profile'] is None and j['normalized'] is None"
  # text output stays text: the message on stderr, nothing on stdout
  expect 1 "$cr" normalize --config "$x" --profile Redmond.contoso.com abc
  [ -z "$out" ] && ok || bad "text output: $out"
  ;;
*)
  echo "unknown case $case"; exit 2 ;;
esac
check_done "contracts $case"
