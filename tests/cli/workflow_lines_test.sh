#!/usr/bin/env bash
# Workflows found by number (issue 12) through the command line: `route` to a workflow's line
# (E.164, 10 digits, an extension through the caller's location profile) and URI gives the
# same JSON shape as a user's line, with the workflow's URI as target; `inbound --gateway`
# to the line names the workflow; a plan image answers the same; `check` refuses a workflow
# whose line or URI is a user's, naming file:line and both objects.
#   workflow_lines_test.sh CALLROUTE_BINARY SOURCE_DIR
set -u
cr=$1 src=$2
x=$src/tests/cli/workflow/lines.xml
source "$(dirname "$0")/check_lib.sh"
# json_is NAME EXPR: the JSON in $out satisfies the Python expression over j
json_is() {
  if python3 -c "import json,sys; j=json.load(sys.stdin); sys.exit(0 if ($2) else 1)" <<<"$out"; then ok
  else bad "$1: $out"; fi
}

# the user's line: the shape a workflow's line must have too
expect 0 "$cr" route --config "$x" --from sip:dan@contoso.com 4255550100 --json
user_keys=$(python3 -c "import json,sys; print(sorted(json.load(sys.stdin)))" <<<"$out")

for dialed in +14255550110 tel:+14255550110 4255550110 50110; do
  expect 0 "$cr" route --config "$x" --from sip:alice@contoso.com "$dialed" --json
  json_is "route $dialed" "j['decision']=='internal' and j['target']=='sip:helpdesk@contoso.com' and j['normalized']=='+14255550110' and j['attempts']==[] and \"workflow 'Helpdesk'\" in j['reason']"
  keys=$(python3 -c "import json,sys; print(sorted(json.load(sys.stdin)))" <<<"$out")
  [ "$keys" = "$user_keys" ] && ok || bad "route $dialed: fields $keys, a user's line has $user_keys"
done
# the extension goes through the caller's profile: Redmond has the 5-digit rule, Dallas not
expect 0 "$cr" route --config "$x" --from sip:alice@contoso.com 50110 --json
json_is "extension rule" "j['profile']=='Redmond' and j['rule']=='5digitExtension'"
expect 1 "$cr" route --config "$x" --from sip:dan@contoso.com 50110 --json
json_is "extension from Dallas" "j['decision']=='blocked' and 'target' not in j"
# the contact URI dialed directly
expect 0 "$cr" route --config "$x" --from sip:alice@contoso.com sip:helpdesk@contoso.com --json
json_is "route uri" "j['decision']=='internal' and j['target']=='sip:helpdesk@contoso.com'"
# text output
expect 0 "$cr" route --config "$x" --from sip:alice@contoso.com 50110
has "target: sip:helpdesk@contoso.com" "route text" "$out"
has "reverse number lookup: +14255550110 is the line of workflow 'Helpdesk' (sip:helpdesk@contoso.com)" "route trace" "$out"

# a call from the gateway to the line (normalized with the gateway's profile)
# (exit 0: the call reaches someone; no user's ringing plan runs for it)
expect 0 "$cr" inbound --config "$x" --gateway Red-GW1 --from 2065550123 50110
has "called: +14255550110" "inbound called" "$out"
has "workflow: Helpdesk (sip:helpdesk@contoso.com)" "inbound workflow" "$out"
case "$out" in *"callee:"*) bad "inbound to a workflow printed a user plan: $out" ;; *) ok ;; esac
expect 0 "$cr" inbound --config "$x" --gateway Red-GW1 --from 2065550123 50110 --json
json_is "inbound workflow json" "j['workflow']=='Helpdesk' and j['target']=='sip:helpdesk@contoso.com' and j['called']=='+14255550110'"
# a number that is nobody's still exits 1
expect 1 "$cr" inbound --config "$x" --gateway Red-GW1 --from 2065550123 50999

# a plan image carries the workflows (from its response groups, compiled)
expect 0 "$cr" compile --config "$x" -o "$tmp/lines.plan"
expect 0 "$cr" route --config "$tmp/lines.plan" --from sip:alice@contoso.com 50110 --json
json_is "image route" "j['decision']=='internal' and j['target']=='sip:helpdesk@contoso.com'"

# check: a workflow whose line or URI is also a user's
c=$src/tests/cli/workflow/collide.xml
expect 2 "$cr" check --config "$c"
has "collide.xml:33: error: workflow 'Helpdesk': its line tel:+14255550100 is also the line of user 'sip:alice@contoso.com' (" "check line" "$out$err"
has "collide.xml:35: error: workflow 'Billing': its URI sip:dan@contoso.com is also user 'sip:dan@contoso.com' (" "check uri" "$out$err"
expect 0 "$cr" check --config "$x"

check_done "workflow lines"
