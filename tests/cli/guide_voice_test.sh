#!/usr/bin/env bash
# Planning-guide voice audit (helper H38g) through the command line, one case per mismatch
# mended:
#   repeats  a gateway a route lists twice gets one share of the route's load, not two, and is
#            tried once; check warns (file:line, route) about a route's repeated gateway or
#            phone usage and a voice policy's repeated phone usage (guide, Basic Routing Setup:
#            the Universal Route sends calls "to one of three gateways"; SPEC §2: "each
#            gateway once ... within one route, spread load across its gateways")
#   bare_plus  the guide's IntlCallingUS (^011(\d*)$ -> +$1) on "011" gives '+' and no digit:
#            the call is blocked with the rule named, not sent as "sip:+@gateway" by the
#            Universal Route (^\+?(\d*)$), as an empty result already was
#   bare_plus_legs  the same for a forwarding or simultaneous-ring target ("011"): the leg is
#            skipped with the rule named, not routed to a gateway as "sip:+@gateway"
#   bare_plus_calling  a calling number from a gateway that its profile translates to '+' and
#            no digit is kept as it came (as an empty result already was), not given as '+' with
#            a P-Asserted-Identity "<sip:+;phone-context=enterprise@...>"
#   pbx_no_answer  a PBX-integrated user's own no-answer forwarding (guide: such users "do not
#            have access to Office Communications Server voice mail"; issue 15: "their no-answer
#            step is off") is listed as skipped by inbound and warned about by check, as the
#            skipped simultaneous ring is; before, it vanished with a trace line only
#   team_delay  check warns (file:line, user) about a team call whose delay is not before the
#            user's no-answer step, which the ringing plan skips at every call (guide, Team Call:
#            "ring him or her first and then the group after a specified interval"); before,
#            check said nothing
#   translation_chars  a translation whose literal text holds a space, a control character or
#            '@' is a check error naming file:line and the rule; before,
#            "+1 425$1" was accepted and sent "sip:+1 4255550100@..." to the gateway
#   guide_voice_test.sh CALLROUTE_BINARY SOURCE_DIR CASE
set -u
cr=$1 src=$2 case=$3
source "$(dirname "$0")/check_lib.sh"

# The guide's "Using the Correct Gateway for Local Calls" (Redmond and Dallas local routes,
# the Universal Route over Red-GW1, Red-GW2 and Dallas-GW1), Redmond's location profile.
cat >"$tmp/g.xml" <<'XML'
<?xml version="1.0"?>
<callroute xmlns="urn:callroute:config:1">
  <domains><domain>contoso.com</domain></domains>
  <locationProfiles default="Redmond.contoso.com">
    <locationProfile name="Redmond.contoso.com" description="Redmond">
      <rule name="5digitExtension" pattern="^5(\d{4})$" translation="+1425555$1"
            internalExtension="true"/>
      <rule name="7digitcallingRedmond" pattern="^(\d{7})$" translation="+1425$1"/>
      <rule name="10digitcallingUS" pattern="^(\d{10})$" translation="+1$1"/>
      <rule name="IntlCallingUS" pattern="^011(\d*)$" translation="+$1"/>
    </locationProfile>
  </locationProfiles>
  <phoneUsages><usage name="Local"/><usage name="GlobalPSTNHopoff"/></phoneUsages>
  <voicePolicies default="Default Calling Policy">
    <voicePolicy name="Default Calling Policy" simultaneousRing="true">
      <usage>Local</usage><usage>GlobalPSTNHopoff</usage>
    </voicePolicy>
  </voicePolicies>
  <gateways>
    <gateway name="Red-GW1" address="sip:192.0.2.10"/>
    <gateway name="Red-GW2" address="sip:192.0.2.11"/>
    <gateway name="Dallas-GW1" address="sip:192.0.2.20"/>
  </gateways>
  <routes>
    <route name="Redmond Local Route" pattern="^\+1(425|206|253)(\d{7})$">
      <usage>Local</usage><gateway>Red-GW1</gateway><gateway>Red-GW2</gateway>
    </route>
    <route name="Dallas Local Route" pattern="^\+1(972|214|469)(\d{7})$">
      <usage>Local</usage><gateway>Dallas-GW1</gateway>
    </route>
    <route name="Universal Route" pattern="^\+?(\d*)$">
      <usage>GlobalPSTNHopoff</usage>
      <gateway>Red-GW1</gateway><gateway>Red-GW2</gateway><gateway>Dallas-GW1</gateway>
    </route>
  </routes>
  <users>
    <user uri="sip:alice@contoso.com" line="tel:+14255550100;ext=50100" enterpriseVoice="true"/>
  </users>
</callroute>
XML
x=$tmp/g.xml

# first_counts FILE NUMBER CALLS: "GW=COUNT ..." of the first attempts of CALLS calls to NUMBER
# decided one after the other with the load-spreading state carried (a live server)
first_counts() {
  local i
  for ((i = 0; i < $3; i++)); do echo "$2"; done >"$tmp/batch"
  "$cr" route --config "$1" --from sip:alice@contoso.com --batch "$tmp/batch" --spread 2>/dev/null |
    python3 -c '
import json, sys, collections
c = collections.Counter(json.loads(l)["attempts"][0]["gateway"] for l in sys.stdin if l.strip())
print(" ".join("%s=%d" % kv for kv in sorted(c.items())))'
}

case $case in
repeats)
  # the guide's table as it stands: an even spread, no warning
  expect 0 "$cr" check --config "$x"
  hasnt "more than once" "the guide's configuration" "$out$err"
  expect 0 "$cr" route --config "$x" --from sip:alice@contoso.com 2035550100 --json
  json "j['rule'] == '10digitcallingUS' and j['normalized'] == '+12035550100' and [a['route'] for a in j['attempts']] == ['Universal Route'] * 3"
  out=$(first_counts "$x" 2035550100 30)
  expect_counts="Dallas-GW1=10 Red-GW1=10 Red-GW2=10"
  [ "$out" = "$expect_counts" ] && ok || bad "guide spread: $out (want $expect_counts)"
  # Red-GW1 given twice in the Universal Route, Local twice in the policy and the route
  sed -e 's|<gateway>Red-GW1</gateway><gateway>Red-GW2</gateway><gateway>Dallas-GW1</gateway>|<gateway>Red-GW1</gateway><gateway>Red-GW2</gateway><gateway>Red-GW1</gateway><gateway>Dallas-GW1</gateway>|' \
      -e 's|<usage>Local</usage><usage>GlobalPSTNHopoff</usage>|<usage>Local</usage><usage>GlobalPSTNHopoff</usage><usage>Local</usage>|' \
      -e 's|<usage>Local</usage><gateway>Dallas-GW1</gateway>|<usage>Local</usage><usage>Local</usage><gateway>Dallas-GW1</gateway>|' \
      "$x" >"$tmp/rep.xml"
  expect 0 "$cr" check --config "$tmp/rep.xml"
  line=$(grep -n '<gateway>Red-GW1</gateway><gateway>Red-GW2</gateway><gateway>Red-GW1</gateway>' "$tmp/rep.xml" | cut -d: -f1)
  has "rep.xml:$line: warning: route 'Universal Route': gateway 'Red-GW1' is listed more than once: the repeat is ignored" \
      "repeated gateway" "$out"
  line=$(grep -n '<usage>Local</usage><usage>GlobalPSTNHopoff</usage><usage>Local</usage>' "$tmp/rep.xml" | cut -d: -f1)
  has "rep.xml:$line: warning: voice policy 'Default Calling Policy': phone usage 'Local' is listed more than once: the repeat is ignored" \
      "repeated policy usage" "$out"
  line=$(grep -n '<usage>Local</usage><usage>Local</usage><gateway>Dallas-GW1</gateway>' "$tmp/rep.xml" | cut -d: -f1)
  has "rep.xml:$line: warning: route 'Dallas Local Route': phone usage 'Local' is listed more than once: the repeat is ignored" \
      "repeated route usage" "$out"
  # each gateway once in the failover list, and each an equal share of the first attempts
  expect 0 "$cr" route --config "$tmp/rep.xml" --from sip:alice@contoso.com 2035550100 --json
  json "sorted(a['gateway'] for a in j['attempts']) == ['Dallas-GW1', 'Red-GW1', 'Red-GW2']"
  out=$(first_counts "$tmp/rep.xml" 2035550100 30)
  [ "$out" = "$expect_counts" ] && ok || bad "repeated gateway spread: $out (want $expect_counts)"
  # with a gateway down, its share goes to the two others, still evenly
  for ((i = 0; i < 30; i++)); do echo 2035550100; done >"$tmp/batch"
  out=$("$cr" route --config "$tmp/rep.xml" --from sip:alice@contoso.com --batch "$tmp/batch" --spread --down Red-GW2 2>/dev/null |
    python3 -c '
import json, sys, collections
c = collections.Counter(json.loads(l)["attempts"][0]["gateway"] for l in sys.stdin if l.strip())
print(" ".join("%s=%d" % kv for kv in sorted(c.items())))')
  [ "$out" = "Dallas-GW1=15 Red-GW1=15" ] && ok || bad "repeated gateway spread, Red-GW2 down: $out"
  # the local route is still tried first for a Dallas number (Local before GlobalPSTNHopoff)
  expect 0 "$cr" route --config "$tmp/rep.xml" --from sip:alice@contoso.com +12145550100 --json
  json "j['attempts'][0]['route'] == 'Dallas Local Route' and j['attempts'][0]['gateway'] == 'Dallas-GW1'"
  ;;
bare_plus)
  expect 0 "$cr" route --config "$x" --from sip:alice@contoso.com 01191445550100 --json
  json "j['rule'] == 'IntlCallingUS' and j['normalized'] == '+91445550100' and j['decision'] == 'outbound'"
  expect 1 "$cr" route --config "$x" --from sip:alice@contoso.com 011 --json
  json "j['decision'] == 'blocked' and j['rule'] == 'IntlCallingUS' and j['attempts'] == []"
  json "j['reason'] == \"rule 'IntlCallingUS' translates 011 to '+' and no digit\""
  expect 1 "$cr" route --config "$x" --from sip:alice@contoso.com 011 --trace
  has "rule 'IntlCallingUS' translates 011 to '+' and no digit" "trace" "$out"
  hasnt "sip:+@" "no Request-URI without a number" "$out"
  # one digit after the '+' is a number (the routes decide)
  expect 0 "$cr" route --config "$x" --from sip:alice@contoso.com 0114 --json
  json "j['decision'] == 'outbound' and j['normalized'] == '+4'"
  ;;
bare_plus_legs)
  sed 's|<user uri="sip:alice@contoso.com" line="tel:+14255550100;ext=50100" enterpriseVoice="true"/>|<user uri="sip:alice@contoso.com" line="tel:+14255550100;ext=50100" enterpriseVoice="true"><simultaneousRing target="011"/><forwarding noAnswerAfter="15" noAnswerTarget="011"/></user>|' \
      "$x" >"$tmp/legs.xml"
  expect 0 "$cr" inbound --config "$tmp/legs.xml" --from sip:bob@contoso.com sip:alice@contoso.com --json
  json "[r['branch'] for r in j['ring']] == ['endpoints'] and j['no_answer'] is None"
  json "any(\"simultaneous ring 011: skipped, rule 'IntlCallingUS' translates it to '+' and no digit\" in s['reason'] for s in j['skipped'])"
  json "any(\"no-answer forwarding to 011: skipped, rule 'IntlCallingUS' translates it to '+' and no digit\" in s['reason'] for s in j['skipped'])"
  hasnt "sip:+@" "no Request-URI without a number" "$out"
  # one digit is a number: the leg is routed
  sed 's|target="011"/>|target="0114"/>|' "$tmp/legs.xml" >"$tmp/legs4.xml"
  expect 0 "$cr" inbound --config "$tmp/legs4.xml" --from sip:bob@contoso.com sip:alice@contoso.com --json
  json "'simultaneous_ring' in [r['branch'] for r in j['ring']]"
  ;;
bare_plus_calling)
  sed 's|<gateway name="Red-GW1" address="sip:192.0.2.10"/>|<gateway name="Red-GW1" address="sip:192.0.2.10" locationProfile="Redmond.contoso.com"/>|' \
      "$x" >"$tmp/gw.xml"
  expect 0 "$cr" inbound --config "$tmp/gw.xml" --gateway Red-GW1 --from 011 50100 --json
  json "j['inbound']['called'] == '+14255550100' and j['inbound']['target'] == 'sip:alice@contoso.com'"
  json "j['inbound']['calling'] == '011' and j['inbound']['pai'] == '<sip:011;phone-context=enterprise@contoso.com;user=phone>'"
  hasnt "sip:+;" "no P-Asserted-Identity without a number" "$out"
  # a calling number with digits is normalized as before
  expect 0 "$cr" inbound --config "$tmp/gw.xml" --gateway Red-GW1 --from 5550177 50100 --json
  json "j['inbound']['calling'] == '+14255550177' and j['inbound']['pai'] is None"
  ;;
pbx_no_answer)
  sed 's|<user uri="sip:alice@contoso.com" line="tel:+14255550100;ext=50100" enterpriseVoice="true"/>|<user uri="sip:alice@contoso.com" line="tel:+14255550100;ext=50100" enterpriseVoice="true" pbxIntegration="true"><forwarding noAnswerAfter="15" noAnswerTarget="sip:bob@contoso.com"/></user>|' \
      "$x" >"$tmp/pbx.xml"
  line=$(grep -n '<user uri="sip:alice@contoso.com"' "$tmp/pbx.xml" | cut -d: -f1)
  expect 0 "$cr" check --config "$tmp/pbx.xml"
  has "pbx.xml:$line: warning: user 'sip:alice@contoso.com': enabled for PBX integration: its no-answer forwarding is skipped (the PBX answers unanswered calls)" \
      "check warning" "$out"
  expect 0 "$cr" inbound --config "$tmp/pbx.xml" --from sip:bob@contoso.com sip:alice@contoso.com --json
  json "j['no_answer'] is None and 'pbx' in [r['branch'] for r in j['ring']]"
  json "any(s['feature'] == 'no_answer' and 'enabled for PBX integration' in s['reason'] for s in j['skipped'])"
  # without a no-answer setting of her own, nothing is said: the PBX keeps the voicemail
  sed 's|<forwarding noAnswerAfter="15" noAnswerTarget="sip:bob@contoso.com"/>||' "$tmp/pbx.xml" >"$tmp/pbx2.xml"
  expect 0 "$cr" check --config "$tmp/pbx2.xml"
  hasnt "no-answer forwarding is skipped" "no setting" "$out"
  expect 0 "$cr" inbound --config "$tmp/pbx2.xml" --from sip:bob@contoso.com sip:alice@contoso.com --json
  json "j['skipped'] == [] and j['no_answer'] is None"
  ;;
team_delay)
  team='<teamCall delay="20"><member>sip:bob@contoso.com</member></teamCall>'
  sed "s|<user uri=\"sip:alice@contoso.com\" line=\"tel:+14255550100;ext=50100\" enterpriseVoice=\"true\"/>|<user uri=\"sip:alice@contoso.com\" line=\"tel:+14255550100;ext=50100\" enterpriseVoice=\"true\" voicemail=\"sip:alice@um.contoso.com\">$team</user>|" \
      "$x" >"$tmp/team.xml"
  line=$(grep -n '<user uri="sip:alice@contoso.com"' "$tmp/team.xml" | cut -d: -f1)
  expect 0 "$cr" check --config "$tmp/team.xml"
  has "team.xml:$line: warning: user 'sip:alice@contoso.com': team-call delay (20 s) is not before the no-answer step (20 s): the team is never rung" \
      "check warning (default no-answer time)" "$out"
  expect 0 "$cr" inbound --config "$tmp/team.xml" --from sip:carol@contoso.com sip:alice@contoso.com --json
  json "any(s['feature'] == 'team_call' for s in j['skipped'])"
  # a no-answer time after the delay: the team rings, nothing said
  sed 's|voicemail="sip:alice@um.contoso.com">|voicemail="sip:alice@um.contoso.com"><forwarding noAnswerAfter="25" noAnswerTarget="voicemail"/>|' \
      "$tmp/team.xml" >"$tmp/team2.xml"
  expect 0 "$cr" check --config "$tmp/team2.xml"
  hasnt "never rung" "delay before the no-answer step" "$out"
  expect 0 "$cr" inbound --config "$tmp/team2.xml" --from sip:carol@contoso.com sip:alice@contoso.com --json
  json "'team_call' in [r['branch'] for r in j['ring']]"
  # no voicemail URI: no no-answer step, the team rings after its delay
  sed 's| voicemail="sip:alice@um.contoso.com"||' "$tmp/team.xml" >"$tmp/team3.xml"
  expect 0 "$cr" check --config "$tmp/team3.xml"
  hasnt "never rung" "no no-answer step" "$out"
  ;;
translation_chars)
  for t in '+1 425$1' '+1425$1@x' '+1425$1 ' ' +1425$1'; do
    python3 -c 'import sys; s=open(sys.argv[1]).read(); open(sys.argv[2],"w").write(s.replace("translation=\"+1425$1\"", "translation=\"%s\"" % sys.argv[3].replace("<","&lt;").replace(">","&gt;").replace("\"","&quot;"), 1))' \
      "$x" "$tmp/t.xml" "$t"
    line=$(grep -n '<rule name="7digitcallingRedmond"' "$tmp/t.xml" | cut -d: -f1)
    expect 2 "$cr" check --config "$tmp/t.xml"
    has "t.xml:$line: error: rule '7digitcallingRedmond' of location profile 'Redmond.contoso.com': translation '$t' has " \
        "translation $t" "$err"
  done
  # a tab (&#9;) is named as a control character
  sed 's|translation="+1425$1"|translation="+1425\&#9;$1"|' "$x" >"$tmp/tab.xml"
  expect 2 "$cr" check --config "$tmp/tab.xml"
  has "has control character 0x09 at offset 5" "tab" "$err"
  # what a number may hold stays accepted: digits, + * #, ;ext=, $$ and group names
  sed 's|translation="+1425$1"|translation="*1425$1#;ext=$1"|' "$x" >"$tmp/ok.xml"
  expect 0 "$cr" check --config "$tmp/ok.xml"
  hasnt "translation '" "an accepted translation" "$out$err"
  expect 0 "$cr" check --config "$src/examples/contoso/contoso.xml"
  hasnt "a normalized number cannot hold it" "contoso" "$out$err"
  ;;
*)
  echo "unknown case '$case'"
  exit 2
  ;;
esac
check_done "guide_voice $case"
