#!/usr/bin/env bash
# The planning guide's Response Group Service chapters against `callroute check` and
# `callroute simulate` (helper H38c): one case per mismatch found and mended.
#   guide_rgs_test.sh CALLROUTE_BINARY SOURCE_DIR CASE
# CASE: agent_uri, empty_group, action_target, holiday_date, group_twice, queue_no_agents,
#   hours_no_range
set -u
cr=$1 src=$2 case=$3
source "$(dirname "$0")/check_lib.sh"

# rg BODY: a configuration whose <responseGroups> holds BODY, in $tmp/rg.xml
rg() {
  printf '<callroute xmlns="urn:callroute:config:1">\n<domains><domain>contoso.com</domain></domains>\n<responseGroups>\n%s\n</responseGroups>\n</callroute>\n' "$1" > "$tmp/rg.xml"
}
printf '0 call c1 sip:a@fabrikam.com sip:desk@contoso.com\n1 hangup c1\n' > "$tmp/one.events"

case $case in
agent_uri)
  # SPEC §4 "Agent: a SIP URI"; guide 2476/2519 "Agents are users who handle incoming calls
  # ... a user must be enabled for Office Communications Server" (users have SIP URIs). An
  # <agent> that is not sip:user@domain was loaded and rung ("ring bob").
  for bad in bob tel:+14255550100 sip:contoso.com 'mailto:bob@contoso.com'; do
    rg "<agentGroup name=\"Desk\">
<agent>sip:ok@contoso.com</agent>
<agent>$bad</agent></agentGroup>
<queue name=\"Desk\"><group>Desk</group><timeout seconds=\"60\" action=\"disconnect\"/></queue>
<workflow name=\"Desk\" uri=\"sip:desk@contoso.com\" queue=\"Desk\"/>"
    expect 2 "$cr" check --config "$tmp/rg.xml"
    has "rg.xml:6: error: agentGroup 'Desk': agent '$bad' is not a SIP URI (sip:user@domain)" \
      "check $bad" "$err"
    expect 2 "$cr" simulate --config "$tmp/rg.xml" "$tmp/one.events"
    hasnt "ring $bad" "simulate $bad" "$out"
  done
  # what stays allowed: sip: and sips:, any case, parameters
  rg '<agentGroup name="Desk"><agent>sip:ok@contoso.com</agent><agent>SIPS:Bob@Contoso.com;transport=tls</agent></agentGroup>
<queue name="Desk"><group>Desk</group><timeout seconds="60" action="disconnect"/></queue>
<workflow name="Desk" uri="sip:desk@contoso.com" queue="Desk"/>'
  expect 0 "$cr" check --config "$tmp/rg.xml"
  ;;
empty_group)
  # guide 2522-2525: "Groups are assigned to queues"; an empty <group> in a queue was
  # dropped without a word (a queue of only empty <group>s then disconnects every call).
  rg '<agentGroup name="Desk"><agent>sip:ok@contoso.com</agent></agentGroup>
<queue name="Desk"><group>Desk</group>
<group></group><timeout seconds="60" action="disconnect"/></queue>
<workflow name="Desk" uri="sip:desk@contoso.com" queue="Desk"/>'
  expect 2 "$cr" check --config "$tmp/rg.xml"
  has "rg.xml:6: error: queue 'Desk': empty <group>" "check" "$err"
  expect 2 "$cr" simulate --config "$tmp/rg.xml" "$tmp/one.events"
  has "empty <group>" "simulate" "$err"
  ;;
action_target)
  # SPEC §4 actions: "forward to a SIP URI or number, voicemail"; a forward or voicemail
  # target that is neither was loaded and the call handed to it ("transfer bob").
  for kind in timeout overflow; do
    for act in forward voicemail; do
      attrs='seconds="30"'; [ $kind = overflow ] && attrs='calls="1"'
      rg "<agentGroup name=\"Desk\"><agent>sip:ok@contoso.com</agent></agentGroup>
<queue name=\"Desk\"><group>Desk</group>
<$kind $attrs action=\"$act\" target=\"helpdesk voicemail\"/></queue>
<workflow name=\"Desk\" uri=\"sip:desk@contoso.com\" queue=\"Desk\"/>"
      expect 2 "$cr" check --config "$tmp/rg.xml"
      has "rg.xml:6: error: queue 'Desk': action '$act': target 'helpdesk voicemail' is not a SIP URI or a phone number" \
        "$kind $act" "$err"
    done
  done
  rg '<agentGroup name="Desk"><agent>sip:ok@contoso.com</agent></agentGroup>
<queue name="Desk"><group>Desk</group><timeout seconds="60" action="disconnect"/></queue>
<workflow name="Desk" uri="sip:desk@contoso.com" queue="Desk">
<afterHours action="forward" target="x"/></workflow>'
  expect 2 "$cr" check --config "$tmp/rg.xml"
  has "rg.xml:7: error: workflow 'Desk': action 'forward': target 'x' is not a SIP URI or a phone number" \
    "afterHours" "$err"
  # what stays allowed: SIP URIs (with parameters), tel: URIs and numbers with separators;
  # the call goes there
  rg '<agentGroup name="Desk"><agent>sip:ok@contoso.com</agent></agentGroup>
<queue name="Desk"><group>Desk</group>
<timeout seconds="5" action="voicemail" target="tel:+14255550100"/>
<overflow calls="1" action="forward" target="+1 (425) 555-0199"/></queue>
<queue name="Other"><group>Desk</group><timeout seconds="5" action="forward" target="sip:x@contoso.com;transport=tcp"/></queue>
<workflow name="Desk" uri="sip:desk@contoso.com" queue="Desk"/>'
  expect 0 "$cr" check --config "$tmp/rg.xml"
  printf '0 presence sip:ok@contoso.com away\n0 call c1 sip:a@fabrikam.com sip:desk@contoso.com\n1 call c2 sip:b@fabrikam.com sip:desk@contoso.com\n' > "$tmp/t.events"
  expect 0 "$cr" simulate --config "$tmp/rg.xml" "$tmp/t.events"
  has "1.000 c2 transfer +1 (425) 555-0199" "overflow forward" "$out"
  has "5.000 c1 voicemail tel:+14255550100" "timeout voicemail" "$out"
  ;;
holiday_date)
  # Issue 6 / SPEC §4 holiday sets (guide 2538: the workflow's business hours and holidays):
  # a holiday's start and end are dates of the calendar. 2027-02-30 was read as 2 March and
  # 24:30 as 00:30 the next day: a holiday on a day nobody wrote.
  for d in 2027-02-30T00:00 2027-02-29 2100-02-29T08:00 2027-04-31 2027-03-01T24:30; do
    rg "<agentGroup name=\"Desk\"><agent>sip:ok@contoso.com</agent></agentGroup>
<queue name=\"Desk\"><group>Desk</group><timeout seconds=\"60\" action=\"disconnect\"/></queue>
<holidaySet name=\"Days\">
<holiday name=\"Bad\" start=\"$d\" end=\"2030-01-01\"/></holidaySet>
<workflow name=\"Desk\" uri=\"sip:desk@contoso.com\" queue=\"Desk\" holidays=\"Days\"/>"
    expect 2 "$cr" check --config "$tmp/rg.xml"
    has "rg.xml:7: error: holidaySet 'Days': start '$d' must be YYYY-MM-DDTHH:MM (local time)" \
      "start $d" "$err"
  done
  # leap days and the end of a day stay allowed; a call on 2 March 2027 is no holiday
  rg '<agentGroup name="Desk"><agent>sip:ok@contoso.com</agent></agentGroup>
<queue name="Desk"><group>Desk</group><timeout seconds="60" action="disconnect"/></queue>
<holidaySet name="Days"><holiday name="Leap" start="2028-02-29" end="2028-02-29T24:00"/>
<holiday name="Y2K" start="2000-02-29T00:00" end="2000-03-01"/></holidaySet>
<workflow name="Desk" uri="sip:desk@contoso.com" queue="Desk" holidays="Days"/>'
  expect 0 "$cr" check --config "$tmp/rg.xml"
  printf '0 call c1 sip:a@fabrikam.com sip:desk@contoso.com\n' > "$tmp/h.events"
  expect 0 "$cr" simulate --config "$tmp/rg.xml" --start 2028-02-29T12:00:00Z "$tmp/h.events"
  [ "$out" = "0.000 c1 hangup holiday" ] && ok || bad "leap day holiday: $out"
  ;;
group_twice)
  # SPEC §4 "Queue: ordered agent groups" (guide 2522-2525: groups are assigned to queues):
  # a group listed twice in one queue is refused as an agent listed twice in one group is;
  # it was taken without a word (its second place never offers anything).
  rg '<agentGroup name="Tier 1"><agent>sip:ok@contoso.com</agent></agentGroup>
<agentGroup name="Tier 2"><agent>sip:two@contoso.com</agent></agentGroup>
<queue name="Desk"><group>Tier 1</group><group>Tier 2</group><group>Tier 1</group>
<timeout seconds="60" action="disconnect"/></queue>
<workflow name="Desk" uri="sip:desk@contoso.com" queue="Desk"/>'
  expect 2 "$cr" check --config "$tmp/rg.xml"
  has "rg.xml:6: error: queue 'Desk': agent group 'Tier 1' listed twice" "check" "$err"
  expect 2 "$cr" simulate --config "$tmp/rg.xml" "$tmp/one.events"
  has "agent group 'Tier 1' listed twice" "simulate" "$err"
  # the same group in two queues stays allowed
  rg '<agentGroup name="Tier 1"><agent>sip:ok@contoso.com</agent></agentGroup>
<queue name="Desk"><group>Tier 1</group><timeout seconds="60" action="disconnect"/></queue>
<queue name="Desk 2"><group>Tier 1</group><timeout seconds="60" action="disconnect"/></queue>
<workflow name="Desk" uri="sip:desk@contoso.com" queue="Desk"/>'
  expect 0 "$cr" check --config "$tmp/rg.xml"
  ;;
queue_no_agents)
  # Guide 2524: "Queues hold callers until an agent becomes available". A queue whose groups
  # list nobody never can: the engine disconnects its calls at once (issue 6: "a queue with
  # no groups or no agents at all disconnects"); check said nothing (or only that it had no
  # <timeout>, "a call waits until an agent answers").
  rg '<agentGroup name="Nobody"/>
<queue name="Desk"><group>Nobody</group></queue>
<queue name="Bare"><timeout seconds="60" action="disconnect"/></queue>
<workflow name="Desk" uri="sip:desk@contoso.com" queue="Desk"/>'
  expect 0 "$cr" check --config "$tmp/rg.xml"
  has "rg.xml:5: warning: queue 'Desk': its agent groups list no agent: every call that reaches it is disconnected (hangup no_agents)" \
    "group without agents" "$out"
  hasnt "queue 'Desk': no <timeout>" "no waiting in a queue without agents" "$out"
  has "rg.xml:6: warning: queue 'Bare': no agent group: every call that reaches it is disconnected (hangup no_agents)" \
    "queue without groups" "$out"
  expect 0 "$cr" simulate --config "$tmp/rg.xml" "$tmp/one.events"
  [ "$out" = "0.000 c1 answer
0.000 c1 hangup no_agents" ] && ok || bad "the call is disconnected: $out"
  ;;
hours_no_range)
  # Guide 2538: a workflow's business hours. An hoursSet without a <range> is never open:
  # every call to a workflow using it gets the after-hours action; check said nothing.
  rg '<agentGroup name="Desk"><agent>sip:ok@contoso.com</agent></agentGroup>
<queue name="Desk"><group>Desk</group><timeout seconds="60" action="disconnect"/></queue>
<hoursSet name="Office" timeZone="UTC"/>
<hoursSet name="Spare" timeZone="UTC"/>
<workflow name="Desk" uri="sip:desk@contoso.com" queue="Desk" hours="Office">
<afterHours action="voicemail" target="sip:vm@contoso.com"/></workflow>'
  expect 0 "$cr" check --config "$tmp/rg.xml"
  has "rg.xml:8: warning: workflow 'Desk': hoursSet 'Office' has no <range>: the workflow is always after hours (every call gets its after-hours action)" \
    "check" "$out"
  hasnt "'Spare'" "an unused set" "$out"
  printf '0 call c1 sip:a@fabrikam.com sip:desk@contoso.com\n' > "$tmp/h.events"
  expect 0 "$cr" simulate --config "$tmp/rg.xml" "$tmp/h.events"
  [ "$out" = "0.000 c1 voicemail sip:vm@contoso.com" ] && ok || bad "after hours: $out"
  ;;
*)
  echo "unknown case $case"; exit 2 ;;
esac
check_done "guide_rgs $case"
