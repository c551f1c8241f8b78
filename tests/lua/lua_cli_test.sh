#!/usr/bin/env bash
# Every Lua IVR scenario through `callroute simulate` (the plugin ABI, rgs_open with the Lua
# driver): the actions must equal tests/lua/<name>.expected without its log lines; with
# --log the IVR log lines must equal them too. Then a reload while calls are in progress.
#   lua_cli_test.sh CALLROUTE_BINARY SOURCE_DIR
set -u
cr=$1 src=$2
source "$(dirname "$0")/../cli/check_lib.sh"

for ev in "$src"/tests/lua/*.events; do
  name=$(basename "$ev" .events)
  cfg=$(sed -n 's/^#! config //p' "$ev"); start=$(sed -n 's/^#! start //p' "$ev")
  args=(simulate --config "$src/tests/lua/$cfg" --log "$tmp/log")
  [ -n "$start" ] && args+=(--start "$start")
  if ! "$cr" "${args[@]}" "$ev" > "$tmp/out" 2> "$tmp/err"; then
    bad "$name: exit status"; head -3 "$tmp/err"; continue
  fi
  grep -v '^[0-9.]* - log ' "$src/tests/lua/$name.expected" > "$tmp/want"
  if diff "$tmp/want" "$tmp/out" > "$tmp/diff"; then ok; else bad "$name differs:"; head -6 "$tmp/diff"; fi
  # the log file holds the queue events too: compare the IVR lines only
  # (load errors at open come before the log is on: they go to stderr only)
  sed -n 's/^\([0-9.]*\) - log \(ivr_\(error\|print\).*\)$/\1 \2/p' "$src/tests/lua/$name.expected" > "$tmp/wantlog"
  grep ' ivr_\(error\|print\)' "$tmp/log" > "$tmp/gotlog"
  if diff "$tmp/wantlog" "$tmp/gotlog" > "$tmp/diff"; then ok; else bad "$name log differs:"; head -6 "$tmp/diff"; fi
done

# "reload" is accepted as an event line; with the file unchanged nothing changes (the reload
# of a changed script while calls run is tested in test_lua_driver).
mkdir -p "$tmp/rl"
cat > "$tmp/rl/rl.xml" <<'XML'
<?xml version="1.0"?>
<callroute xmlns="urn:callroute:config:1"><responseGroups>
  <workflow name="Reload" uri="sip:reload@test" type="ivr" script="rl.lua"/>
</responseGroups></callroute>
XML
printf 'call:play("v1-a.wav")\ncall:play("v1-b.wav")\ncall:hangup("v1")\n' > "$tmp/rl/rl.lua"
printf '0 call r1 sip:a@test sip:reload@test\n1 prompt_done r1\n2 reload\n3 call r2 sip:b@test sip:reload@test\n4 prompt_done r1\n' > "$tmp/reload.events"
if "$cr" simulate --config "$tmp/rl/rl.xml" "$tmp/reload.events" > "$tmp/out" 2> "$tmp/err"; then
  want=$'0.000 r1 answer\n0.000 r1 play v1-a.wav\n1.000 r1 play v1-b.wav\n3.000 r2 answer\n3.000 r2 play v1-a.wav\n4.000 r1 hangup v1'
  [ "$(cat "$tmp/out")" = "$want" ] && ok || { bad "reload run differs"; cat "$tmp/out"; }
else
  bad "reload run: exit status"; head -3 "$tmp/err"
fi
# a script error is reported on stderr (the host's log) with script, line and call
printf 'local x = nil\nx.y = 1\n' > "$tmp/rl/rl.lua"
printf '0 call r3 sip:a@test sip:reload@test\n' > "$tmp/err.events"
"$cr" simulate --config "$tmp/rl/rl.xml" "$tmp/err.events" > "$tmp/out" 2> "$tmp/err"
case $(cat "$tmp/err") in
  *"ivr_error call=r3 "*"script=rl.lua line=2 "*) ok ;;
  *) bad "script error not on stderr"; cat "$tmp/err" ;;
esac
[ "$(cat "$tmp/out")" = $'0.000 r3 answer\n0.000 r3 hangup ivr_error' ] && ok || { bad "error run"; cat "$tmp/out"; }
# every IVR script of the configuration failing to load: each call still ends in its
# workflow's fallback with a log line naming call and script (issue 7), its queue here
mkdir -p "$tmp/ab"
cat > "$tmp/ab/ab.xml" <<'XML'
<?xml version="1.0"?>
<callroute xmlns="urn:callroute:config:1"><responseGroups>
  <agentGroup name="Desk" routingMethod="serial" alertTime="10"><agent>sip:agent1@test</agent></agentGroup>
  <queue name="Desk"><group>Desk</group></queue>
  <workflow name="Broken" uri="sip:broken@test" type="ivr" script="broken.lua" queue="Desk"/>
  <workflow name="Gone" uri="sip:gone@test" type="ivr" script="gone.lua"/>
</responseGroups></callroute>
XML
printf 'call:play("a.wav"\n' > "$tmp/ab/broken.lua"
printf '0 call b1 sip:a@test sip:broken@test\n1 call g1 sip:a@test sip:gone@test\n2 hangup b1\n' > "$tmp/ab.events"
"$cr" simulate --config "$tmp/ab/ab.xml" "$tmp/ab.events" > "$tmp/out" 2> "$tmp/err"
want=$'0.000 b1 answer\n0.000 b1 moh default\n0.000 b1 ring sip:agent1@test\n1.000 g1 answer\n1.000 g1 hangup ivr_error\n2.000 b1 cancel sip:agent1@test'
[ "$(cat "$tmp/out")" = "$want" ] && ok || { bad "every script broken: not the fallbacks"; cat "$tmp/out"; }
case $(cat "$tmp/err") in
  *"ivr_error call=b1 workflow=\"Broken\" script=broken.lua "*"fallback=\"queue Desk\""*) ok ;;
  *) bad "every script broken: no ivr_error line for b1"; cat "$tmp/err" ;;
esac
# rg.is_open('Set') reads a set without a zone of its own in the workflow's zone, as the
# engine reads the workflow's hours: 17:30 UTC on a Monday is 09:30 in Los Angeles (open)
mkdir -p "$tmp/tz"
cat > "$tmp/tz/tz.xml" <<'XML'
<?xml version="1.0"?>
<callroute xmlns="urn:callroute:config:1"><responseGroups>
  <hoursSet name="Office"><range days="mon-fri" open="08:00" close="17:00"/></hoursSet>
  <hoursSet name="Office London" timeZone="Europe/London"><range days="mon-fri" open="08:00" close="17:00"/></hoursSet>
  <workflow name="Tz" uri="sip:tz@test" type="ivr" script="tz.lua" timeZone="America/Los_Angeles"/>
</responseGroups></callroute>
XML
printf 'call:play(rg.is_open("Office") and "open.wav" or "closed.wav")\ncall:play(rg.is_open("Office London") and "london-open.wav" or "london-closed.wav")\ncall:hangup("done")\n' > "$tmp/tz/tz.lua"
printf '0 call t1 sip:a@test sip:tz@test\n1 prompt_done t1\n2 prompt_done t1\n' > "$tmp/tz.events"
"$cr" simulate --config "$tmp/tz/tz.xml" --start 2027-01-04T17:30:00Z "$tmp/tz.events" > "$tmp/out" 2> "$tmp/err"
[ "$(cat "$tmp/out")" = $'0.000 t1 answer\n0.000 t1 play open.wav\n1.000 t1 play london-closed.wav\n2.000 t1 hangup done' ] \
  && ok || { bad "rg.is_open and the workflow's zone"; cat "$tmp/out" "$tmp/err"; }
check_done
