#!/usr/bin/env bash
# Contract audit (helper H37e) through the command line, one case per mismatch mended:
#   schema_object  check's schema errors name the object (its kind and name or URI) and the
#                  value of an invalid attribute (SPEC §5: errors name file:line and the object)
#   phone_context  a phone-context naming a profile exactly picks it before one whose name
#                  differs only in case (SPEC §2 step 2), and check warns about such names
#   pbx_simring    a PBX-integrated user's simultaneous ring is skipped, and check says so with
#                  file:line (guide, Voice Policies: "not available if you are enabling PBX
#                  integration")
#   gateway_unusable  a call blocked because its Request-URI would be too long for every
#                  gateway of the matching routes says so, not that they are all down
#   line_ext       a line whose ;ext= is not digits is an error naming the user or workflow,
#                  inline as in the user directory's import
#   targets        call-management targets no call can ring (not a number, a SIP URI or
#                  voicemail) get a check warning naming the user and the element
#   semantics2_test.sh CALLROUTE_BINARY SOURCE_DIR CASE
set -u
cr=$1 src=$2 case=$3
source "$(dirname "$0")/check_lib.sh"

# A small deployment: profiles "dallas" (no rules) and "Dallas", a PBX-integrated user with a
# simultaneous-ring target, and a user who keeps hers.
cat >"$tmp/d.xml" <<'XML'
<?xml version="1.0"?>
<callroute xmlns="urn:callroute:config:1">
  <domains><domain>contoso.com</domain></domains>
  <locationProfiles default="Redmond">
    <locationProfile name="Redmond">
      <rule name="7digit" pattern="^(\d{7})$" translation="+1425$1"/>
    </locationProfile>
    <locationProfile name="dallas"/>
    <locationProfile name="Dallas">
      <rule name="7digit" pattern="^(\d{7})$" translation="+1214$1"/>
    </locationProfile>
  </locationProfiles>
  <phoneUsages><usage name="Local"/></phoneUsages>
  <voicePolicies default="P">
    <voicePolicy name="P" simultaneousRing="true"><usage>Local</usage></voicePolicy>
  </voicePolicies>
  <gateways>
    <gateway name="PBX" address="sip:192.0.2.50"/>
    <gateway name="PSTN" address="sip:192.0.2.60"/>
  </gateways>
  <routes>
    <route name="Lines" pattern="^\+1425555\d{4}$"><usage>Local</usage><gateway>PBX</gateway></route>
    <route name="Any" pattern="^\+\d+$"><usage>Local</usage><gateway>PSTN</gateway></route>
  </routes>
  <users>
    <user uri="sip:pat@contoso.com" line="tel:+14255550100" enterpriseVoice="true"
          pbxIntegration="true">
      <simultaneousRing target="+12065550199"/>
    </user>
    <user uri="sip:sue@contoso.com" line="tel:+14255550101" enterpriseVoice="true">
      <simultaneousRing target="+12065550198"/>
    </user>
  </users>
</callroute>
XML
x=$tmp/d.xml

case $case in
schema_object)
  sed 's/<user uri="sip:sue@contoso.com" line="tel:+14255550101" enterpriseVoice="true">/<user uri="sip:sue@contoso.com" line="tel:+14255550101" enterpriseVoice="maybe">/' \
      "$x" >"$tmp/bad_bool.xml"
  line=$(grep -n 'enterpriseVoice="maybe"' "$tmp/bad_bool.xml" | cut -d: -f1)
  expect 2 "$cr" check --config "$tmp/bad_bool.xml"
  has "bad_bool.xml:$line: error: schema: Invalid attribute enterpriseVoice for element user (user 'sip:sue@contoso.com', enterpriseVoice='maybe')" \
      "invalid attribute value" "$err"
  sed 's/<gateway name="PSTN" address="sip:192.0.2.60"\/>/<gateway name="PSTN" address="sip:192.0.2.60" ports="many"\/>/' \
      "$x" >"$tmp/bad_ports.xml"
  line=$(grep -n 'ports="many"' "$tmp/bad_ports.xml" | cut -d: -f1)
  expect 2 "$cr" check --config "$tmp/bad_ports.xml"
  has "bad_ports.xml:$line: error: schema: Invalid attribute ports for element gateway (gateway 'PSTN', ports='many')" \
      "invalid ports" "$err"
  # a missing required attribute: the element's summary names the object
  sed 's/<gateway name="PSTN" address="sip:192.0.2.60"\/>/<gateway name="PSTN"\/>/' "$x" >"$tmp/no_addr.xml"
  line=$(grep -n '<gateway name="PSTN"/>' "$tmp/no_addr.xml" | cut -d: -f1)
  expect 2 "$cr" check --config "$tmp/no_addr.xml"
  has "no_addr.xml:$line: error: schema: " "missing address" "$err"
  has "(gateway 'PSTN')" "missing address names the gateway" "$err"
  ;;
phone_context)
  # check says the two names differ only in case, naming the first one's place
  expect 0 "$cr" check --config "$x"
  line=$(grep -n '<locationProfile name="Dallas">' "$x" | cut -d: -f1)
  first=$(grep -n '<locationProfile name="dallas"/>' "$x" | cut -d: -f1)
  has "d.xml:$line: warning: location profile 'Dallas': name differs only in case from location profile 'dallas' (${x}:$first)" \
      "check names the profiles" "$out"
  expect 0 "$cr" route --config "$x" --from sip:sue@contoso.com "tel:5550100;phone-context=Dallas" --json
  json "j['profile'] == 'Dallas' and j['normalized'] == '+12145550100'"
  expect 1 "$cr" route --config "$x" --from sip:sue@contoso.com "sip:5550100;phone-context=dallas@contoso.com;user=phone" --json
  json "j['profile'] == 'dallas' and j['normalized'] == '5550100'"
  # any case of a name that only one profile has still names it (FQDNs)
  expect 0 "$cr" route --config "$x" --from sip:sue@contoso.com "tel:5550100;phone-context=REDMOND" --json
  json "j['profile'] == 'Redmond' and j['normalized'] == '+14255550100'"
  # --profile names a profile as a phone-context does: the exact name first, else one whose
  # name differs only in case; the output names it as configured
  expect 0 "$cr" normalize --config "$x" --profile Dallas 5550100 --json
  json "j['profile'] == 'Dallas' and j['normalized'] == '+12145550100'"
  expect 0 "$cr" normalize --config "$x" --profile dallas 5550100 --json
  json "j['profile'] == 'dallas' and j['normalized'] == '5550100'"
  expect 0 "$cr" normalize --config "$x" --profile REDMOND 5550100 --json
  json "j['profile'] == 'Redmond' and j['normalized'] == '+14255550100'"
  expect 0 "$cr" dial --config "$x" --profile redmond 5550100 --json
  json "j['profile'] == 'Redmond'"
  expect 2 "$cr" normalize --config "$x" --profile Austin 5550100
  has "no location profile 'Austin'" "an unknown profile" "$err"
  # inbound finds the callee of a number through the same profile as route does (the default
  # profile is Dallas here, so a phone-context not followed would reach nobody)
  sed 's/<locationProfiles default="Redmond">/<locationProfiles default="Dallas">/' "$x" >"$tmp/dd.xml"
  expect 0 "$cr" route --config "$tmp/dd.xml" --from sip:sue@contoso.com "tel:5550100;phone-context=REDMOND" --json
  json "j['decision'] == 'internal' and j['target'] == 'sip:pat@contoso.com'"
  expect 0 "$cr" inbound --config "$tmp/dd.xml" --from sip:sue@contoso.com "tel:5550100;phone-context=REDMOND" --json
  json "j['callee'] == 'sip:pat@contoso.com'"
  ;;
pbx_simring)
  expect 0 "$cr" check --config "$x"
  line=$(grep -n '<user uri="sip:pat@contoso.com"' "$x" | cut -d: -f1)
  has "d.xml:$line: warning: user 'sip:pat@contoso.com': enabled for PBX integration: its simultaneous ring is skipped" \
      "check warning" "$out"
  expect 0 "$cr" inbound --config "$x" --from sip:sue@contoso.com sip:pat@contoso.com --json
  json "not any(r['branch'] == 'simultaneous_ring' for r in j['ring']) and any(r['branch'] == 'pbx' for r in j['ring'])"
  json "any(s['feature'] == 'simultaneous_ring' and 'PBX integration' in s['reason'] for s in j['skipped'])"
  # without PBX integration the simultaneous ring stays
  expect 0 "$cr" inbound --config "$x" --from sip:pat@contoso.com sip:sue@contoso.com --json
  json "any(r['branch'] == 'simultaneous_ring' and r['target'] == 'tel:+12065550198' for r in j['ring'])"
  ;;
gateway_unusable)
  # PSTN's host makes any Request-URI through it longer than 255 characters
  long=$(printf 'g%.0s' $(seq 238)).example.com
  sed "s|sip:192.0.2.60|sip:$long|" "$x" >"$tmp/long.xml"
  expect 1 "$cr" route --config "$tmp/long.xml" --from sip:sue@contoso.com +12065550199 --json
  json "j['decision'] == 'blocked' and j['reason'] == 'no gateway of the routes matching +12065550199 can take the call (a Request-URI over 255 characters)'"
  # one matching route's gateway down, the other's too long: both causes
  expect 1 "$cr" route --config "$tmp/long.xml" --from sip:sue@contoso.com +14255550123 --down PBX --trace
  has "reason: no gateway of the routes matching +14255550123 can take the call (down or a Request-URI over 255 characters)" \
      "down and too long" "$out"
  has "blocked: no gateway of the routes matching +14255550123 can take the call (down or a Request-URI over 255 characters)" \
      "the trace's blocked line" "$out"
  # every gateway down: as before
  expect 1 "$cr" route --config "$x" --from sip:sue@contoso.com +14255550123 --down PBX,PSTN --json
  json "j['reason'] == 'every gateway of the routes matching +14255550123 is down'"
  # the PBX route still serves its numbers
  expect 0 "$cr" route --config "$tmp/long.xml" --from sip:sue@contoso.com +14255550123 --json
  json "j['decision'] == 'outbound' and [a['gateway'] for a in j['attempts']] == ['PBX']"
  ;;
line_ext)
  for ext in '' abc 12a; do
    sed "s|line=\"tel:+14255550101\"|line=\"tel:+14255550101;ext=$ext\"|" "$x" >"$tmp/ext.xml"
    line=$(grep -n 'sip:sue@contoso.com' "$tmp/ext.xml" | head -1 | cut -d: -f1)
    expect 2 "$cr" check --config "$tmp/ext.xml"
    has "ext.xml:$line: error: user 'sip:sue@contoso.com': line 'tel:+14255550101;ext=$ext': ;ext= must be followed by digits" \
        "user ;ext=$ext" "$err"
  done
  sed "s|line=\"tel:+14255550101\"|line=\"tel:+14255550101;ext=50101\"|" "$x" >"$tmp/ext.xml"
  expect 0 "$cr" check --config "$tmp/ext.xml"
  # a workflow's line
  sed 's|</users>|</users><responseGroups><agentGroup name="G"><agent>sip:a@contoso.com</agent></agentGroup><queue name="Q"><group>G</group><timeout seconds="30" action="disconnect"/></queue><workflow name="W" uri="sip:w@contoso.com" line="tel:+14255550199;ext=x" queue="Q"/></responseGroups>|' \
      "$x" >"$tmp/wext.xml"
  expect 2 "$cr" check --config "$tmp/wext.xml"
  has "line 'tel:+14255550199;ext=x': ;ext= must be followed by digits" "workflow ;ext=x" "$err"
  ;;
targets)
  sed -e 's|<simultaneousRing target="+12065550198"/>|<simultaneousRing target="call me"/><forwarding noAnswerAfter="20" noAnswerTarget="nowhere@"/><teamCall><member>sip:pat@contoso.com</member><member>bob</member></teamCall>|' \
      -e 's|<user uri="sip:sue@contoso.com" line="tel:+14255550101" enterpriseVoice="true">|<user uri="sip:sue@contoso.com" line="tel:+14255550101" enterpriseVoice="true" voicemail="vm.contoso.com">|' \
      "$x" >"$tmp/t.xml"
  line=$(grep -n '<user uri="sip:sue@contoso.com"' "$tmp/t.xml" | cut -d: -f1)
  expect 0 "$cr" check --config "$tmp/t.xml"
  has "t.xml:$line: warning: user 'sip:sue@contoso.com': <simultaneousRing target> 'call me' is not a phone number, a SIP URI or voicemail: it is skipped at every call" \
      "simultaneous ring" "$out"
  has "<forwarding noAnswerTarget> 'nowhere@' is not a phone number, a SIP URI or voicemail" "no-answer target" "$out"
  has "team-call member 'bob' is not a phone number, a SIP URI or voicemail" "team member" "$out"
  hasnt "team-call member 'sip:pat@contoso.com'" "a SIP URI member is fine" "$out"
  has "voicemail 'vm.contoso.com' is not a SIP URI" "voicemail URI" "$out"
  # the example's targets are all fine
  expect 0 "$cr" check --config "$src/examples/contoso/contoso.xml"
  hasnt "skipped at every call" "contoso" "$out$err"
  ;;
*)
  echo "unknown case '$case'"
  exit 2
  ;;
esac
check_done "semantics2 $case"
