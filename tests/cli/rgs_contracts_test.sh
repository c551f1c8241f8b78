#!/usr/bin/env bash
# Contract audit of the Response Group Service through `callroute simulate` (SPEC §4, §5,
# issue 6; helper H37w): one case per mismatch found and mended.
#   rgs_contracts_test.sh CALLROUTE_BINARY SOURCE_DIR CASE
# CASE: attendant_dnd, bom, unknown_group
set -u
cr=$1 src=$2 case=$3
x=$src/tests/rgs/rgs.xml
source "$(dirname "$0")/check_lib.sh"

case $case in
attendant_dnd)
  # Issue 6: attendant "rings every signed-in agent whatever its presence (except
  # do-not-disturb and offline)". An agent who turns dnd or offline while rung is cancelled
  # at once and his answer afterwards is refused; busy keeps ringing and may answer.
  printf '%s\n' '0 signin sip:t1@contoso.com Attendant' '0 signin sip:t2@contoso.com Attendant' \
    '0 signin sip:t3@contoso.com Attendant' '1 call c1 sip:a@fabrikam.com sip:att@contoso.com' \
    '2 presence sip:t1@contoso.com dnd' '3 presence sip:t2@contoso.com offline' \
    '4 presence sip:t3@contoso.com busy' '5 answer c1 sip:t1@contoso.com' \
    '6 answer c1 sip:t3@contoso.com' > "$tmp/a.events"
  expect 0 "$cr" simulate --config "$x" "$tmp/a.events"
  want='1.000 c1 answer
1.000 c1 moh default
1.000 c1 ring sip:t1@contoso.com sip:t2@contoso.com sip:t3@contoso.com
2.000 c1 cancel sip:t1@contoso.com
3.000 c1 cancel sip:t2@contoso.com
6.000 c1 bridge sip:t3@contoso.com'
  [ "$out" = "$want" ] && ok || { bad "attendant dnd/offline while rung:"; printf '%s\n' "$out"; }
  has "a.events:8: warning: agent 'sip:t1@contoso.com' is not ringing for call 'c1'" \
    "refused answer" "$err"
  ;;
bom)
  # SPEC §5: an events file is lines of "<seconds> <event> <args...>" with '#' comments; one
  # saved with a UTF-8 byte order mark (and CRLF) reads the same, headers included.
  cp "$x" "$tmp/groups.xml"
  printf '\xef\xbb\xbf#! config groups.xml\r\n# comment\r\n\r\n0 call c1 sip:a@fabrikam.com sip:serial@contoso.com\r\n1 hangup c1\r\n' > "$tmp/b.events"
  expect 0 "$cr" simulate "$tmp/b.events"
  want='0.000 c1 answer
0.000 c1 moh default
0.000 c1 ring sip:s1@contoso.com
1.000 c1 cancel sip:s1@contoso.com'
  [ "$out" = "$want" ] && ok || { bad "events file with a BOM:"; printf '%s\n' "$out" "$err"; }
  printf '\xef\xbb\xbf0 call c1 sip:a@fabrikam.com sip:serial@contoso.com\n1 hangup c1\n' > "$tmp/c.events"
  expect 0 "$cr" simulate --config "$x" "$tmp/c.events"
  [ "$out" = "$want" ] && ok || { bad "events file with a BOM before an event:"; printf '%s\n' "$out" "$err"; }
  # a BOM elsewhere is no time
  printf '0 call c1 sip:a@fabrikam.com sip:serial@contoso.com\n\xef\xbb\xbf1 hangup c1\n' > "$tmp/d.events"
  expect 2 "$cr" simulate --config "$x" "$tmp/d.events"
  has "d.events:2: error: a line must start with a time in seconds" "BOM on line 2" "$err"
  ;;
unknown_group)
  # SPEC §5 signin/signout <agent-uri> <group>: a group that does not exist is named as such
  # (not "agent ... is not in group"), one that exists without him says so.
  printf '%s\n' '0 signin sip:f1@contoso.com Helpdesk Tier 9' '1 signout sip:f1@contoso.com Serial' \
    '2 signin sip:f1@contoso.com Formal' > "$tmp/g.events"
  expect 0 "$cr" simulate --config "$x" "$tmp/g.events"
  has "g.events:1: warning: unknown group 'Helpdesk Tier 9'" "unknown group" "$err"
  has "g.events:2: warning: agent 'sip:f1@contoso.com' is not in group 'Serial'" "not a member" "$err"
  hasnt "g.events:3:" "a good sign-in" "$err"
  ;;
*)
  echo "unknown case $case"; exit 2 ;;
esac
check_done "rgs_contracts $case"
