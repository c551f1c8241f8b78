#!/usr/bin/env bash
# Issue 15 semantics through the command line: PBX coexistence, who may take part, the default
# policy for a directory user whose policy is gone, device dialing with a longer access
# prefix, `inbound --gateway` output and an unknown gateway, and the new `check` messages.
#   semantics_test.sh CALLROUTE_BINARY SOURCE_DIR
set -u
cr=$1 src=$2
x=$src/tests/cli/semantics/pbx.xml
source "$(dirname "$0")/check_lib.sh"

# PBX coexistence: a call from a SIP endpoint forks to the PBX through the route for the
# user's own line; no no-answer step (the PBX keeps the voicemail).
expect 0 "$cr" inbound --config "$x" --from sip:bob@contoso.com sip:alice@contoso.com
has "pbx               pstn      tel:+14255550100  via PBX sip:+14255550100@192.0.2.50:5060" "fork" "$out"
hasnt "no_answer" "pbx user plan" "$out"
has "no no-answer step" "pbx reason" "$out"
# a call that arrives from the PBX gateway rings only the SIP endpoints (no fork back)
expect 0 "$cr" inbound --config "$x" --gateway PBX --from +14255550199 +14255550100
hasnt "pbx    " "call from the PBX" "$out"
has "no fork back" "call from the PBX trace" "$out"
# from another gateway the fork stays
expect 0 "$cr" inbound --config "$x" --gateway PSTN --from +12065550199 +14255550100
has "via PBX" "call from the PSTN" "$out"
# inbound --gateway prints what the gateway's profile made of the numbers
has "calling: +12065550199" "inbound calling" "$out"
has "p-asserted-identity: -" "inbound pai" "$out"
has "called: +14255550100" "inbound called" "$out"
# an unknown gateway is refused (callroute.h: ENOENT), not the default profile in silence
expect 2 "$cr" inbound --config "$x" --gateway NOPE --from +12065550199 +14255550100
has "'NOPE' is no configured gateway" "unknown gateway" "$err"
# JSON: the fork branch
expect 0 "$cr" inbound --config "$x" --from sip:bob@contoso.com sip:alice@contoso.com --json
if python3 -c "import json,sys; j=json.load(sys.stdin); sys.exit(0 if any(r['branch']=='pbx' and r['gateway']=='PBX' for r in j['ring']) and j['no_answer'] is None else 1)" <<<"$out"; then ok; else bad "json pbx ring"; fi

# Who may take part: a team-call member without Enterprise Voice is skipped; so is the
# simultaneous ring of an owner without it; check warns with file:line and object.
expect 0 "$cr" inbound --config "$x" --from sip:alice@contoso.com sip:bob@contoso.com
has "team-call member sip:carol@contoso.com: skipped, not enabled for Enterprise Voice" "team" "$out"
has "team_call         user      sip:dave@contoso.com" "team dave" "$out"
expect 0 "$cr" inbound --config "$x" --from sip:alice@contoso.com sip:carol@contoso.com
has "simultaneous ring sip:dave@contoso.com: skipped, 'sip:carol@contoso.com' is not enabled for Enterprise Voice" "simring" "$out"
expect 0 "$cr" check --config "$x"
has "pbx.xml:27: warning: user 'sip:bob@contoso.com': team-call member 'sip:carol@contoso.com'" "check team" "$out"
has "pbx.xml:31: warning: user 'sip:carol@contoso.com': not enabled for Enterprise Voice: its simultaneous ring is skipped" "check simring" "$out"

# Device dialing: "*8" may still become the access prefix "*81" (guide 9132)
expect 0 "$cr" dial --config "$x" --profile Redmond '*8'
has "need_more" "dial *8" "$out"
expect 0 "$cr" dial --config "$x" --profile Redmond '*81'
has "need_more" "dial *81" "$out"

# The directory: pbxIntegration column round trip, and a user whose policy is gone
printf 'uri,line,enterpriseVoice,voicePolicy,pbxIntegration\nsip:erin@contoso.com,tel:+14255550104,true,Gone,\nsip:fay@contoso.com,tel:+14255550105,true,,true\n' >"$tmp/u.csv"
expect 0 "$cr" users import --db "$tmp/db" "$tmp/u.csv"
expect 0 "$cr" users export --db "$tmp/db" --format csv -
has "sip:fay@contoso.com,tel:+14255550105,true,,,,,,,,,,,true" "csv export" "$out"
expect 0 "$cr" users export --db "$tmp/db" --format xml -
has 'pbxIntegration="true"' "xml export" "$out"
expect 0 "$cr" inbound --config "$x" --db "$tmp/db" --from sip:bob@contoso.com sip:fay@contoso.com
has "via PBX sip:+14255550105@192.0.2.50:5060" "directory pbx user" "$out"
expect 0 "$cr" route --config "$x" --db "$tmp/db" --from sip:erin@contoso.com --trace +12065550100
has "decision: outbound" "deleted policy" "$out"
has "voice policy 'Gone' is not configured: the default policy 'Default' applies" "deleted policy trace" "$out"
expect 0 "$cr" check --config "$x" --db "$tmp/db"
has "db: warning: user 'sip:erin@contoso.com': voice policy 'Gone' is not configured" "check --db" "$out"

# check names configuration holes: no <domains>, a queue without timeout, agents and
# workflows against users
sed -e 's|<domains><domain>contoso.com</domain></domains>||' "$x" >"$tmp/nodomains.xml"
expect 0 "$cr" check --config "$tmp/nodomains.xml"
has "warning: domains: no <domains>" "no domains" "$out"
expect 2 "$cr" check --config "$src/tests/cli/semantics/rgs.xml"
has "rgs.xml:37: error: agent group 'Desk': agent 'sip:carol@contoso.com' is user 'sip:carol@contoso.com' (" "agent ev" "$err"
has "not enabled for Enterprise Voice: an agent who is a user must be enabled" "agent ev says why" "$err"
has "rgs.xml:41: warning: queue 'Desk': no <timeout>" "queue timeout" "$out$err"
has "rgs.xml:42: error: workflow 'Help': its URI sip:dave@contoso.com is also user 'sip:dave@contoso.com'" "wf uri" "$err"
has "rgs.xml:43: error: workflow 'Sales': its line tel:+14255550101 is also the line of user 'sip:bob@contoso.com'" "wf line" "$err"

# a user entry with only the workflow's URI (Enterprise Voice, policy, profile) is the
# workflow's calling identity for forwards to numbers: allowed
sed -e 's/@PORT_[A-D]@/5060/g' "$src/tests/e2e/fixtures/rgs.xml" >"$tmp/rgs_identity.xml"
expect 0 "$cr" check --config "$tmp/rgs_identity.xml"
hasnt "is also user" "workflow calling identity" "$out$err"

check_done "semantics"
