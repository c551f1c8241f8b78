#!/usr/bin/env bash
# Contract tests of the `callroute` command line (SPEC §5): exit codes, messages, JSON shapes.
#   cli_test.sh CALLROUTE_BINARY SOURCE_DIR CASE
set -u
cr=$1 src=$2 case=$3
contoso=$src/examples/contoso/contoso.xml
source "$(dirname "$0")/check_lib.sh"

case $case in
check)
  expect 0 "$cr" check --config "$contoso"
  has "ok" "check stdout" "$out"
  for f in "$src"/tests/cli/broken/*.xml; do
    expect 2 "$cr" check --config "$f"
    has "$f:$(cat "${f%.xml}.expect")" "check stderr of $(basename "$f")" "$err"
  done
  expect 2 "$cr" check --config "$tmp/missing.xml"
  has "missing.xml" "missing file" "$err"
  expect 0 "$cr" check --config "$contoso" --json
  json 'j["ok"] is True and j["errors"] == 0 and isinstance(j["diagnostics"], list)'
  expect 2 "$cr" check --config "$src/tests/cli/broken/unknown_gateway.xml" --json
  json 'j["ok"] is False and j["diagnostics"][0]["line"] == 16 and j["diagnostics"][0]["object"] == "route '"'"'Local Route'"'"'"'
  # lint warnings: exit 0 and named
  sed 's#<usage name="Local"/>#<usage name="Local"/><usage name="Spare"/>#' \
    "$src/tests/cli/broken/unknown_gateway.xml" | sed 's#GW9#GW1#' > "$tmp/lint.xml"
  expect 0 "$cr" check --config "$tmp/lint.xml"
  has "warning: phone usage 'Spare'" "lint" "$out"
  # the response groups of the same document are checked too
  sed 's#<group>Serial</group>#<group>Nobody</group>#' "$src/tests/rgs/rgs.xml" > "$tmp/rgs_bad.xml"
  if ! cmp -s "$tmp/rgs_bad.xml" "$src/tests/rgs/rgs.xml"; then
    expect 2 "$cr" check --config "$tmp/rgs_bad.xml"
    has "Nobody" "check of a broken response group" "$err"
    has "rgs_bad.xml:" "check names the file" "$err"
  else
    bad "fixture: tests/rgs/rgs.xml has no <group>Serial</group> to break"
  fi
  # IVR scripts are compiled: a syntax error names the script and its line
  expect 2 "$cr" check --config "$src/tests/lua/broken.xml"
  has "syntax_error.lua:3: error: IVR script" "check of a broken IVR script" "$err"
  # a script name with a space is named whole (file, line and object)
  printf 'local x = = 1\n' >"$tmp/my ivr.lua"
  cat >"$tmp/spaced.xml" <<'XML'
<callroute xmlns="urn:callroute:config:1">
  <domains><domain>contoso.com</domain></domains>
  <responseGroups>
    <workflow name="Spaced IVR" uri="sip:ivr@contoso.com" type="ivr" script="my ivr.lua"/>
  </responseGroups>
</callroute>
XML
  expect 2 "$cr" check --config "$tmp/spaced.xml"
  has "my ivr.lua:1: error: IVR script 'my ivr.lua': cannot be loaded: unexpected symbol near '='" \
      "check names a script whose name has a space" "$err"
  # a script in another directory is located by its path, not only its base name
  mkdir -p "$tmp/ivrs"
  printf 'call:play("a.wav"\n' >"$tmp/ivrs/sub.lua"
  sed -e 's#script="my ivr.lua"#script="ivrs/sub.lua"#' "$tmp/spaced.xml" >"$tmp/subdir.xml"
  expect 2 "$cr" check --config "$tmp/subdir.xml"
  has "$tmp/ivrs/sub.lua:2: error: IVR script 'sub.lua': cannot be loaded: " \
      "check locates a script in a subdirectory by its path" "$err"
  # an IVR's welcome= is not played (SPEC §4: the welcome prompt is the hunt group's): a warning
  printf 'call:play("menu.wav")\ncall:hangup()\n' >"$tmp/menu.lua"
  sed -e 's#my ivr.lua"/>#menu.lua" welcome="hello.wav"/>#' "$tmp/spaced.xml" >"$tmp/welcome.xml"
  expect 0 "$cr" check --config "$tmp/welcome.xml"
  has "welcome.xml:4: warning: workflow 'Spaced IVR': welcome=\"hello.wav\" is not played" \
      "check warns about an IVR's welcome" "$out$err"
  ;;
normalize)
  expect 0 "$cr" normalize --config "$contoso" --profile Redmond.contoso.com 0100 --json
  json 'j == {"input": "0100", "profile": "Redmond.contoso.com", "rule": "4digitExtension", "normalized": "+14255550100"}'
  expect 0 "$cr" normalize --config "$contoso" --profile Redmond.contoso.com "+1 (206) 555-0100" --json
  json 'j["rule"] is None and j["normalized"] == "+12065550100"'
  expect 0 "$cr" normalize --config "$contoso" --profile Redmond.contoso.com 5550100
  has "+14255550100" "normalize text" "$out"
  expect 2 "$cr" normalize --config "$contoso" --profile Nowhere 0100
  expect 1 "$cr" normalize --config "$contoso" --profile Redmond.contoso.com "abc"
  expect 1 "$cr" normalize --config "$contoso" --profile Redmond.contoso.com ""
  expect 2 "$cr" normalize --config "$contoso" --profile Redmond.contoso.com
  ;;
route)
  expect 0 "$cr" route --config "$contoso" --from sip:alice@contoso.com +14255550199 --json
  json 'set(j) == {"decision","profile","rule","normalized","attempts","reason"} and j["decision"] == "outbound"'
  json 'all(set(a) == {"gateway","route","usage","uri"} for a in j["attempts"])'
  json 'j["attempts"][0]["gateway"] in ("Red-GW1","Red-GW2") and j["attempts"][0]["route"] == "Redmond Local Route"'
  expect 0 "$cr" route --config "$contoso" --from sip:alice@contoso.com 50101 --json
  json 'j["decision"] == "internal" and j["target"] == "sip:bob@contoso.com" and j["attempts"] == []'
  expect 1 "$cr" route --config "$contoso" --from sip:alice@contoso.com +19005551212 --json
  json 'j["decision"] == "blocked" and j["attempts"] == [] and j["reason"]'
  expect 1 "$cr" route --config "$contoso" --from sip:erin@contoso.com +12065550100 --json
  json 'j["decision"] == "not_applicable"'
  expect 0 "$cr" route --config "$contoso" --from sip:alice@contoso.com +12145550100 --down Dallas-GW1 --json
  json '"Dallas-GW1" not in [a["gateway"] for a in j["attempts"]] and j["attempts"][0]["route"] == "Universal Route"'
  expect 0 "$cr" route --config "$contoso" --from sip:alice@contoso.com +12145550100 --down Dallas-GW1 --down Red-GW1 --json
  json '[a["gateway"] for a in j["attempts"]][:1] == ["Red-GW2"]'
  expect 0 "$cr" route --config "$contoso" --from sip:alice@contoso.com --down Dallas-GW1 Red-GW1 +12145550100 --json
  json '[a["gateway"] for a in j["attempts"]][:1] == ["Red-GW2"] and "Red-GW1" not in [a["gateway"] for a in j["attempts"]]'
  # human output carries the trace
  expect 0 "$cr" route --config "$contoso" --from sip:alice@contoso.com +14255550199
  has "trace:" "route text" "$out"
  has "route 'Redmond Local Route'" "route trace" "$out"
  # bad input: errors, never crashes
  expect 1 "$cr" route --config "$contoso" --from sip:alice@contoso.com ""
  expect 1 "$cr" route --config "$contoso" --from sip:alice@contoso.com "letters" --json
  json 'j["decision"] == "not_applicable"'
  expect 2 "$cr" route --config "$contoso" +14255550199
  expect 2 "$cr" route --config "$contoso" --from sip:alice@contoso.com
  expect 2 "$cr" route --config "$contoso" --from sip:alice@contoso.com --bogus 1
  ;;
batch)
  printf '# a number plan\n+14255550199\n\n50101\n+19005551212\n911\n' > "$tmp/numbers"
  expect 1 "$cr" route --config "$contoso" --from sip:alice@contoso.com --batch "$tmp/numbers"
  lines=$(printf '%s\n' "$out" | wc -l)
  [ "$lines" = 6 ] && ok || bad "batch printed $lines lines, want 6 (one per input line)"
  python3 - "$tmp/out" <<'PY' && ok || bad "batch JSON lines"
import json, sys
lines = open(sys.argv[1]).read().split("\n")[:-1]
assert lines[0] == "# a number plan" and lines[2] == "", lines
rows = [json.loads(l) for l in lines if l and not l.startswith("#")]
assert [r["decision"] for r in rows] == ["outbound", "internal", "blocked", "outbound"], rows
assert [r["input"] for r in rows] == ["+14255550199", "50101", "+19005551212", "911"], rows
assert list(rows[0])[0] == "input"
PY
  # lines longer than any buffer: one decision per line, whatever its length
  { printf '+14255550199\n'; head -c 5000 /dev/zero | tr '\0' 5; printf '\n50101\n'; } > "$tmp/long"
  expect 1 "$cr" route --config "$contoso" --from sip:alice@contoso.com --batch "$tmp/long"
  python3 - "$tmp/out" <<'PY' && ok || bad "batch with a 5000-character line"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert [r["decision"] for r in rows] == ["outbound", "not_applicable", "internal"], rows
PY
  printf '+14255550199\n+14255550199\n' > "$tmp/two"
  expect 0 "$cr" route --config "$contoso" --from sip:carol@contoso.com --batch "$tmp/two"
  ;;
batch_io)
  # issue 17: the batch reads blocks and writes one buffer; what it prints stays as it was
  printf '  # indented comment \t\r\n+14255550199\r\n   \n\t50101  \n+19005551212' > "$tmp/edge"
  expect 1 "$cr" route --config "$contoso" --from sip:alice@contoso.com --batch "$tmp/edge"
  python3 - "$tmp/out" <<'PY' && ok || bad "batch blanks, comments, CRLF, last line without newline"
import json, sys
raw = open(sys.argv[1], "rb").read()
lines = raw.split(b"\n")
assert lines[-1] == b"" and len(lines) == 6, lines
assert lines[0] == b"  # indented comment" and lines[2] == b"", lines
rows = [json.loads(l) for l in (lines[1], lines[3], lines[4])]
assert [r["input"] for r in rows] == ["+14255550199", "50101", "+19005551212"], rows
assert [r["decision"] for r in rows] == ["outbound", "internal", "blocked"], rows
PY
  # the same line for a number alone (route --json) and in a batch, "input" apart
  expect 0 "$cr" route --config "$contoso" --from sip:alice@contoso.com +14255550199 --json
  alone=$out
  printf '+14255550199\n' > "$tmp/one"
  expect 0 "$cr" route --config "$contoso" --from sip:alice@contoso.com --batch - < "$tmp/one"
  [ "$out" = "{\"input\":\"+14255550199\",${alone#\{}" ] && ok || bad "batch line differs: $out vs $alone"
  # a line longer than the read buffer (64 KB) is one number; a NUL byte skips its line, and
  # its message comes after the lines before it when both streams go to one file
  { printf '50101\n'; head -c 100000 /dev/zero | tr '\0' 7; printf '\n5\0001\n+14255550199\n'; } > "$tmp/big"
  "$cr" route --config "$contoso" --from sip:alice@contoso.com --batch "$tmp/big" > "$tmp/both" 2>&1
  [ $? = 1 ] && ok || bad "batch with a NUL byte: exit status"
  python3 - "$tmp/both" "$tmp/big" <<'PY' && ok || bad "batch: long line, NUL byte line, message order"
import json, sys
lines = open(sys.argv[1], "rb").read().split(b"\n")[:-1]
assert len(lines) == 4, [l[:80] for l in lines]
assert json.loads(lines[0])["decision"] == "internal"
big = json.loads(lines[1])
assert big["input"] == "7" * 100000 and big["decision"] == "not_applicable", big["reason"]
assert lines[2] == ("callroute route: %s:3: the line holds a NUL byte: skipped" % sys.argv[2]).encode(), lines[2]
assert json.loads(lines[3])["decision"] == "outbound"
PY
  # "input" escaped byte for byte as SPEC'd, checked against a plain reference: quotes,
  # backslashes, control bytes, valid and broken UTF-8 at every place of short and long lines
  python3 - "$tmp/tricky" <<'PY'
import random, sys
rnd = random.Random(17)
pieces = [b'"', b"\\", b"\t", b"\r", b"\x01", b"\x1f", b"\x7f", b"\x80", b"\xff", b"\xc3\xa9",
          b"\xe2\x82\xac", b"\xf0\x9f\x98\x80", b"\xe2\x82", b"\xed\xa0\x80", b"\xc0\xaf", b"\xf4\x90\x80\x80"]
lines = []
for n in list(range(1, 41)) + [47, 63, 64, 65, 200, 5000]:
    for at in sorted({0, n // 3, n // 2, n - 1}):
        for p in pieces:
            if at + len(p) <= n:
                lines.append(b"5" * at + p + b"1" * (n - at - len(p)))
    lines.append(b"+1425555" * (n // 8) + b"0123456789"[: n % 8])
for _ in range(300):
    lines.append(bytes(rnd.choice(b"0123456789+@sip:.;=" + b"".join(pieces)) for _ in range(rnd.randint(1, 70))))
# the batch trims blanks at both ends and skips '#' lines: keep lines that start and end plain
lines = [b"x" + l + b"x" for l in lines if 0 not in l and 10 not in l]
open(sys.argv[1], "wb").write(b"\n".join(lines) + b"\n")
PY
  "$cr" route --config "$contoso" --from sip:alice@contoso.com --batch "$tmp/tricky" > "$tmp/tricky.out" 2>"$tmp/err"
  python3 - "$tmp/tricky" "$tmp/tricky.out" <<'PY' && ok || bad "batch: \"input\" not escaped as the reference"
import sys
def utf8_len(b, i):  # well-formed UTF-8 sequence at b[i] (Unicode 15, table 3-7), or 0
    rows = [(0xc2, 0xdf, 0x80, 0xbf, 2), (0xe0, 0xe0, 0xa0, 0xbf, 3), (0xe1, 0xec, 0x80, 0xbf, 3),
            (0xed, 0xed, 0x80, 0x9f, 3), (0xee, 0xef, 0x80, 0xbf, 3), (0xf0, 0xf0, 0x90, 0xbf, 4),
            (0xf1, 0xf3, 0x80, 0xbf, 4), (0xf4, 0xf4, 0x80, 0x8f, 4)]
    for first, last, lo, hi, n in rows:
        if first <= b[i] <= last:
            if i + n > len(b) or not lo <= b[i + 1] <= hi:
                return 0
            return n if all(0x80 <= c <= 0xbf for c in b[i + 2 : i + n]) else 0
    return 0
def ref(b):
    o, i = bytearray(b'"'), 0
    while i < len(b):
        c = b[i]
        u = utf8_len(b, i) if c >= 0x80 else 0
        if u:
            o += b[i : i + u]; i += u; continue
        if c >= 0x80: o += "\ufffd".encode()
        elif c in b'"\\': o += b"\\" + bytes([c])
        elif c in b"\n\t\r": o += {10: b"\\n", 9: b"\\t", 13: b"\\r"}[c]
        elif c < 0x20 or c == 0x7f: o += b"\\u%04x" % c
        else: o.append(c)
        i += 1
    return bytes(o + b'"')
ins = open(sys.argv[1], "rb").read().split(b"\n")[:-1]
outs = open(sys.argv[2], "rb").read().split(b"\n")[:-1]
assert len(ins) == len(outs), (len(ins), len(outs))
for a, b in zip(ins, outs):
    want = b'{"input":' + ref(a) + b',"decision": '
    assert b.startswith(want), (a[:80], b[:200], want[:200])
PY
  # a program that feeds numbers through a pipe gets each answer before it sends the next
  python3 - "$cr" "$contoso" <<'PY' && ok || bad "batch through a pipe: an answer waits for more input"
import json, select, subprocess, sys
p = subprocess.Popen([sys.argv[1], "route", "--config", sys.argv[2], "--from",
                      "sip:alice@contoso.com", "--batch", "-"], stdin=subprocess.PIPE,
                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
try:
    for number, decision in (("+14255550199", "outbound"), ("50101", "internal")):
        p.stdin.write((number + "\n").encode())
        p.stdin.flush()
        ready, _, _ = select.select([p.stdout], [], [], 60)
        assert ready, "no answer to " + number
        row = json.loads(p.stdout.readline())
        assert row["input"] == number and row["decision"] == decision, row
    p.stdin.close()
    assert p.wait(timeout=60) == 0
finally:
    if p.poll() is None:
        p.kill()
PY
  expect 2 "$cr" route --config "$contoso" --from sip:alice@contoso.com --batch "$tmp/missing"
  has "callroute route: cannot open $tmp/missing: No such file or directory" "stderr" "$err"
  expect 2 "$cr" route --config "$contoso" --from sip:alice@contoso.com --batch "$tmp"
  has "callroute route: cannot read $tmp: Is a directory" "stderr" "$err"
  ;;
order)
  # issue 16: a batch line's gateway order does not depend on the lines before it
  order() { python3 -c 'import json,sys; print(" ".join(",".join([a["gateway"] for a in json.loads(l)["attempts"]] or ["-"]) for l in sys.stdin if l.startswith("{")))'; }
  printf '+14255550199\n' > "$tmp/alone"
  printf '+14255550198\n+14255550199\n+12145550100\n+14255550199\n' > "$tmp/after"
  expect 0 "$cr" route --config "$contoso" --from sip:alice@contoso.com --batch "$tmp/alone"
  alone=$(order <<<"$out")
  expect 0 "$cr" route --config "$contoso" --from sip:alice@contoso.com --batch "$tmp/after"
  after=($(order <<<"$out"))
  [ "${after[1]}" = "$alone" ] && [ "${after[3]}" = "$alone" ] && ok \
    || bad "the same number got another gateway order in the batch: '${after[*]}' vs '$alone'"
  [ "${after[0]}" = "$alone" ] && ok || bad "two numbers of one route start apart: ${after[*]}"
  # --spread carries the load-spreading state as a live server does
  expect 0 "$cr" route --config "$contoso" --from sip:alice@contoso.com --batch "$tmp/after" --spread
  spread=($(order <<<"$out"))
  [ "${spread[0]}" != "${spread[1]}" ] && ok || bad "--spread did not spread: ${spread[*]}"
  ;;
options)
  # issue 16: every subcommand has its own options; the others are errors
  expect 2 "$cr" check --config "$contoso" --from sip:alice@contoso.com
  has "unknown option '--from'" "check --from" "$err"
  expect 2 "$cr" normalize --config "$contoso" --profile Redmond.contoso.com --batch x 0100
  has "unknown option '--batch'" "normalize --batch" "$err"
  expect 2 "$cr" dial --config "$contoso" --profile Redmond.contoso.com --down x 5
  expect 2 "$cr" route --config "$contoso" --from sip:alice@contoso.com -x 5550100
  has "unknown option '-x'" "route -x" "$err"
  expect 2 "$cr" route --config "$contoso" --from sip:alice@contoso.com --json=yes 5550100
  has "takes no value" "--json=yes" "$err"
  expect 2 "$cr" route --config "$contoso" --from
  has "'--from' needs a value" "--from without value" "$err"
  expect 2 "$cr" simulate --config "$src/tests/rgs/rgs.xml" --profile x "$src/tests/rgs/serial.events"
  expect 2 "$cr" users import --db "$tmp/db" --bogus x.csv
  # a typo in --down is an error naming the gateways
  expect 2 "$cr" route --config "$contoso" --from sip:alice@contoso.com +12145550100 --down Dalas-GW1
  has "--down 'Dalas-GW1': no such gateway" "--down typo" "$err"
  has "Dallas-GW1" "--down typo lists the gateways" "$err"
  expect 2 "$cr" route --config "$contoso" --from sip:alice@contoso.com --batch /dev/null --down Nope
  # -h/--help everywhere: exit 0, usage on stdout
  for c in check normalize route dial simulate inbound bench users; do
    for h in -h --help; do
      expect 0 "$cr" $c $h
      has "usage: callroute $c" "$c $h" "$out"
    done
  done
  expect 0 "$cr" --help
  has "usage: callroute COMMAND" "--help" "$out"
  # --version: the program's, the library's and its ABI
  expect 0 "$cr" --version
  has "callroute 0." "--version" "$out"
  has "libcallroute " "--version names the library" "$out"
  has "(ABI 1." "--version gives the ABI" "$out"
  ;;
runaway)
  # issue 16: a queue without timeout re-rings forever; simulate stops and says so
  printf '0 call c1 sip:a@x sip:serial@contoso.com\n' > "$tmp/forever.events"
  expect 0 timeout 60 "$cr" simulate --config "$src/tests/rgs/rgs.xml" "$tmp/forever.events"
  n=$(printf '%s\n' "$out" | wc -l)
  [ "$n" -lt 100 ] && ok || bad "simulate of a queue without timeout printed $n lines"
  has "only periodic re-offers" "simulate stop message" "$err"
  has "40.000 c1 ring sip:s2@contoso.com" "simulate shows a whole cycle" "$out"
  # --until still runs exactly that far
  expect 0 "$cr" simulate --config "$src/tests/rgs/rgs.xml" --until 3600 "$tmp/forever.events"
  has "3600.000 c1 ring" "--until 3600" "$out"
  # a queue with a timeout still reaches it (the stop never cuts a timeout short)
  printf '0 call c1 sip:a@x sip:timeout@contoso.com\n' > "$tmp/timeout.events"
  expect 0 "$cr" simulate --config "$src/tests/rgs/rgs.xml" "$tmp/timeout.events"
  has "30.000 c1 voicemail sip:vm@contoso.com" "timeout after re-offers" "$out"
  # the events file's headers: #! config (relative to the file) and #! start
  mkdir -p "$tmp/ev"; cp "$src/tests/rgs/rgs.xml" "$tmp/ev/groups.xml"
  printf '#! config groups.xml\n0 call c1 sip:a@x sip:serial@contoso.com\n1 hangup c1\n' > "$tmp/ev/h.events"
  expect 0 "$cr" simulate "$tmp/ev/h.events"
  has "0.000 c1 ring sip:s1@contoso.com" "#! config" "$out"
  ev=$src/tests/rgs/dst.events
  if grep -q '^#! start' "$ev"; then
    expect 0 "$cr" simulate "$ev"
    if diff <(printf '%s\n' "$out") "${ev%.events}.expected" > "$tmp/diff"; then ok
    else bad "simulate with the headers of dst.events differs:"; head -5 "$tmp/diff"; fi
  else bad "fixture: dst.events has no #! start"; fi
  printf '#! confg groups.xml\n0 call c1 sip:a@x sip:serial@contoso.com\n' > "$tmp/ev/bad.events"
  expect 2 "$cr" simulate "$tmp/ev/bad.events"
  has "bad.events:1: error: unknown header '#! confg'" "unknown header" "$err"
  printf '0 call c1 sip:a@x sip:serial@contoso.com\n' > "$tmp/ev/none.events"
  expect 2 "$cr" simulate "$tmp/ev/none.events"
  has "no --config FILE" "no config at all" "$err"
  ;;
csv)
  # issue 16: spreadsheets (BOM, TRUE/FALSE) and a missing enterpriseVoice column
  printf '\xef\xbb\xbfuri,line,enterpriseVoice,voicePolicy\r\nsip:u1@contoso.com,tel:+14255551001,TRUE,Redmond Calling Policy\r\nsip:u2@contoso.com,tel:+14255551002,False,\r\n' > "$tmp/bom.csv"
  expect 0 "$cr" users import --db "$tmp/db" "$tmp/bom.csv"
  has "2 users read" "import of a CSV with a BOM" "$out"
  expect 0 "$cr" users export --db "$tmp/db" --format csv
  has 'sip:u1@contoso.com,tel:+14255551001,true' "TRUE read as true" "$out"
  has 'sip:u2@contoso.com,tel:+14255551002,false' "False read as false" "$out"
  printf 'uri,line\nsip:u3@contoso.com,tel:+14255551003\n' > "$tmp/noev.csv"
  expect 0 env -u CALLROUTE_QUIET "$cr" users import --db "$tmp/db" "$tmp/noev.csv" --json
  has "noev.csv:1: warning:" "missing enterpriseVoice warned" "$err"
  has "enterpriseVoice" "missing enterpriseVoice named" "$err"
  json 'j["warnings"] == 1'
  # users whose voice policy or location profile the configuration lacks: check --db says so
  printf 'uri,enterpriseVoice,voicePolicy,locationProfile\nsip:u5@contoso.com,true,Nope Policy,\nsip:u6@contoso.com,true,,Nowhere.contoso.com\n' > "$tmp/names.csv"
  expect 0 "$cr" users import --db "$tmp/db" "$tmp/names.csv"
  expect 0 "$cr" check --config "$contoso" --db "$tmp/db"
  has "user 'sip:u5@contoso.com': voice policy 'Nope Policy' is not configured" "check --db policy" "$out"
  has "user 'sip:u6@contoso.com': location profile 'Nowhere.contoso.com' is not defined" "check --db profile" "$out"
  has "2 warnings" "check --db counts them" "$out"
  expect 0 "$cr" check --config "$contoso" --db "$tmp/db" --json
  json 'j["warnings"] == 2 and all(d["level"] == "warning" for d in j["diagnostics"])'
  printf 'uri,enterpriseVoice\nsip:u4@contoso.com,yes please\n' > "$tmp/badbool.csv"
  expect 1 "$cr" users import --db "$tmp/db" "$tmp/badbool.csv"
  has "badbool.csv:2" "bad boolean names the line" "$err"
  ;;
dial)
  for p in Redmond.contoso.com; do
    expect 0 "$cr" dial --config "$contoso" --profile $p 5010
    [ "$out" = need_more ] && ok || bad "dial 5010: $out"
    expect 0 "$cr" dial --config "$contoso" --profile $p 50101
    [ "$out" = complete ] && ok || bad "dial 50101: $out"
    expect 1 "$cr" dial --config "$contoso" --profile $p '*#*'
    [ "$out" = no_match ] && ok || bad "dial *#*: $out"
    expect 0 "$cr" dial --config "$contoso" --profile $p 50101 --json
    json 'j["answer"] == "complete" and j["rule"] and j["normalized"] == "+14255550101"'
  done
  expect 2 "$cr" dial --config "$contoso" --profile Nowhere 5
  expect 1 "$cr" dial --config "$contoso" --profile Redmond.contoso.com "12a"
  ;;
robustness)
  head -c 10485760 /dev/urandom > "$tmp/random.xml"
  expect 2 "$cr" check --config "$tmp/random.xml"
  : > "$tmp/empty.xml"
  expect 2 "$cr" check --config "$tmp/empty.xml"
  python3 -c "print('<callroute xmlns=\"urn:callroute:config:1\">' + '<a>'*100000 + '</a>'*100000 + '</callroute>')" > "$tmp/deep.xml"
  expect 2 "$cr" check --config "$tmp/deep.xml"
  sed 's#pattern="\^(\\d{7})\$"#pattern="^(\\d+)+$"#' "$src/tests/cli/broken/unknown_gateway.xml" \
    | sed 's#GW9#GW1#' > "$tmp/backtrack.xml"
  expect 0 timeout 10 "$cr" normalize --config "$tmp/backtrack.xml" --profile Redmond 1111111111111111111111111111111111111111
  expect 1 timeout 10 "$cr" route --config "$tmp/backtrack.xml" --from sip:alice@contoso.com "11111111111111111111111111111111111111111111111*"
  long=$(head -c 5000 /dev/zero | tr '\0' 5)
  expect 1 "$cr" route --config "$contoso" --from sip:alice@contoso.com "$long"
  expect 1 "$cr" route --config "$contoso" --from "not a uri" 5550100
  ;;
simulate)
  # every response-group scenario through the command line, byte for byte
  for ev in "$src"/tests/rgs/*.events; do
    [ -f "${ev%.events}.expected" ] || continue
    cfgname=$(sed -n 's/^#! config //p' "$ev"); start=$(sed -n 's/^#! start //p' "$ev")
    args=(simulate --config "$src/tests/rgs/${cfgname:-rgs.xml}")
    [ -n "$start" ] && args+=(--start "$start")
    expect 0 "$cr" "${args[@]}" "$ev"
    if diff <(printf '%s\n' "$out") "${ev%.events}.expected" > "$tmp/diff"; then ok
    else bad "simulate $(basename "$ev") differs:"; head -5 "$tmp/diff"; fi
  done
  # a timeline split in two runs over an LMDB state directory prints what one run prints
  ev=$src/tests/rgs/restart.events
  expect 0 "$cr" simulate --config "$src/tests/rgs/rgs.xml" "$ev"; whole=$out
  split=$(sed -n 's/^#! split //p' "$ev")
  awk -v s="$split" '/^#/ || NF == 0 {next} $1 < s' "$ev" > "$tmp/first"
  awk -v s="$split" '/^#/ || NF == 0 {next} $1 >= s' "$ev" > "$tmp/second"
  expect 0 "$cr" simulate --config "$src/tests/rgs/rgs.xml" --state "$tmp/state" "$tmp/first"; a=$out
  expect 0 "$cr" simulate --config "$src/tests/rgs/rgs.xml" --state "$tmp/state" "$tmp/second"; b=$out
  joined=$(printf '%s\n%s' "$a" "$b" | sed '/^$/d')
  [ "$joined" = "$whole" ] && ok || bad "split run differs from whole run"
  # bad event lines: the file and line, exit 2
  printf '0 call c1 sip:a@x sip:serial@contoso.com\nfive presence x available\n' > "$tmp/bad.events"
  expect 2 "$cr" simulate --config "$src/tests/rgs/rgs.xml" "$tmp/bad.events"
  has "bad.events:2" "simulate error" "$err"
  ;;
input)
  # issue 10: hostile input gives a clear answer, and JSON output always parses
  # jsonok: stdout parses as JSON lines, read as strict UTF-8 (in the C locale Python would
  # otherwise smuggle invalid bytes through as lone surrogates)
  jsonok() {
    if PYTHONIOENCODING=utf-8:strict python3 -m json.tool --json-lines < "$tmp/out" >/dev/null
    then ok; else bad "JSON does not parse: $1"; head -c 300 "$tmp/out"; echo; fi
  }
  expect 1 "$cr" route --config "$contoso" --from "$(printf 'sip:al\xffice@contoso.com')" 5550100 --json
  jsonok "route with an invalid UTF-8 caller"
  json '"al\ufffdice" in j["reason"]'
  expect 1 "$cr" route --config "$contoso" --from sip:alice@contoso.com "$(printf '555\xc0\xaf0100\x01\x7f')" --json
  jsonok "route with an invalid UTF-8 number"
  expect 1 "$cr" route --config "$contoso" --from sip:alice@contoso.com "$(printf 'sip:+1425555\xed\xa0\x80@contoso.com')" --json
  jsonok "route with a UTF-16 surrogate in the number"
  expect 1 "$cr" route --config "$contoso" --from sip:alice@contoso.com "$(printf 'sip:+14255550199@\xe9xample.com')" --json
  jsonok "route with a Latin-1 domain"
  json '"\u00e9" not in j["reason"] and "\ufffd" in j["reason"]'
  expect 1 "$cr" route --config "$contoso" --from "$(printf 'sip:\xe2\x82\xacuro@contoso.com')" 5550100 --json
  jsonok "route with valid UTF-8"
  json '"\u20acuro" in j["reason"]'
  printf '0 call c\xff1 sip:a@x sip:serial@contoso.com\n1 dtmf c\xff1 1\n3 hangup c\xff1\n' > "$tmp/utf8.events"
  expect 0 "$cr" simulate --config "$src/tests/rgs/rgs.xml" --json "$tmp/utf8.events"
  jsonok "simulate --json with an invalid UTF-8 call id"
  # a sips: Request-URI stays sips: towards the gateways (no TLS downgrade)
  expect 0 "$cr" route --config "$contoso" --from sip:alice@contoso.com "sips:+14255550199@contoso.com;user=phone" --json
  json 'j["attempts"] and all(a["uri"].startswith("sips:") for a in j["attempts"])'
  expect 0 "$cr" route --config "$contoso" --from sip:alice@contoso.com "sip:+14255550199@contoso.com;user=phone" --json
  json 'j["attempts"] and all(a["uri"].startswith("sip:") for a in j["attempts"])'
  # phone-context: percent-encoded or control characters, and duplicates, are refused with a reason
  expect 1 "$cr" route --config "$contoso" --from sip:alice@contoso.com "sip:5550199;phone-context=%00@contoso.com;user=phone" --json
  json 'j["decision"] == "not_applicable" and "phone-context" in j["reason"] and "percent" in j["reason"]'
  expect 1 "$cr" route --config "$contoso" --from sip:alice@contoso.com "tel:5550199;phone-context=Redmond.contoso.com;phone-context=Dallas.contoso.com" --json
  json 'j["decision"] == "not_applicable" and "duplicate ;phone-context=" in j["reason"]'
  expect 1 "$cr" route --config "$contoso" --from sip:alice@contoso.com "tel:+14255550100;ext=50100;ext=50101" --json
  json 'j["decision"] == "not_applicable" and "duplicate ;ext=" in j["reason"]'
  # --start must be a real UTC date and time
  printf '0 call c1 sip:a@x sip:serial@contoso.com\n1 hangup c1\n' > "$tmp/short.events"
  for bad in 2027-02-31T09:00:00Z 2027-01-04T25:61:61Z 2027-02-31T25:61:61Z 2027-01-04T09:00:00Zjunk 2027-13-01T00:00:00Z; do
    expect 2 "$cr" simulate --config "$src/tests/rgs/rgs.xml" --start "$bad" "$tmp/short.events"
    has "--start '$bad'" "simulate --start $bad" "$err"
  done
  expect 0 "$cr" simulate --config "$src/tests/rgs/rgs.xml" --start 2028-02-29T23:59:59Z "$tmp/short.events"
  # more options than the parser holds: a message, not a silent exit 2
  args=(); for i in $(seq 70); do args+=(--json); done
  expect 2 "$cr" route --config "$contoso" --from sip:alice@contoso.com "${args[@]}" 5550100
  has "too many options" "70 options" "$err"
  args=(); for i in $(seq 70); do args+=(5550100); done
  expect 2 "$cr" route --config "$contoso" --from sip:alice@contoso.com "${args[@]}"
  has "too many arguments" "70 arguments" "$err"
  # a simulate line longer than any buffer is one line: a long comment is one comment
  { printf '# '; head -c 9000 /dev/zero | tr '\0' a; printf '\n0 call c1 sip:a@x sip:serial@contoso.com\n1 hangup c1\n'; } > "$tmp/long.events"
  expect 0 "$cr" simulate --config "$src/tests/rgs/rgs.xml" "$tmp/long.events"
  has "1.000 c1 cancel" "simulate after a long comment" "$out"
  # and a long event is one error naming its line
  { printf '0 call c1 sip:a@x sip:serial@contoso.com\n1 speech c1 '; head -c 9000 /dev/zero | tr '\0' a; printf '\n2 hangup c1\n'; } > "$tmp/long2.events"
  expect 2 "$cr" simulate --config "$src/tests/rgs/rgs.xml" "$tmp/long2.events"
  has "long2.events:2: error: event too long" "simulate long event" "$err"
  ;;
owner)
  # issue 16: an LMDB directory the SIP server's user can open
  chmod 755 "$tmp"
  printf 'uri,line,enterpriseVoice\nsip:u1@contoso.com,tel:+14255551001,true\n' > "$tmp/u.csv"
  as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
  if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
    expect 0 "$cr" users import --db "$tmp/db" "$tmp/u.csv"
    # imported as root: another user is refused with the path and what it needs
    expect 2 as_nobody "$cr" route --config "$contoso" --db "$tmp/db" --from sip:u1@contoso.com +14255550199
    has "$tmp/db" "refusal names the directory" "$err"
    has "runs as user 'nobody'" "refusal names the user" "$err"
    has "read and write lock.mdb" "refusal names the permission" "$err"
    expect 0 "$cr" users import --db "$tmp/db" "$tmp/u.csv" --owner nobody:nogroup
    owners=$(stat -c %U:%G "$tmp/db" "$tmp/db/data.mdb" "$tmp/db/lock.mdb" | sort -u)
    [ "$owners" = nobody:nogroup ] && ok || bad "--owner nobody:nogroup left $owners"
    expect 0 as_nobody "$cr" route --config "$contoso" --db "$tmp/db" --from sip:u1@contoso.com +14255550199
    # a re-import as root keeps the directory's owner
    expect 0 "$cr" users import --db "$tmp/db" "$tmp/u.csv" --replace
    owners=$(stat -c %U:%G "$tmp/db" "$tmp/db/data.mdb" "$tmp/db/lock.mdb" | sort -u)
    [ "$owners" = nobody:nogroup ] && ok || bad "re-import changed the owner to $owners"
    rm -f "$tmp/db/lock.mdb"
    expect 0 "$cr" users import --db "$tmp/db" "$tmp/u.csv"
    owners=$(stat -c %U:%G "$tmp/db/lock.mdb")
    [ "$owners" = nobody:nogroup ] && ok || bad "a lock.mdb created by a re-import is $owners"
  fi
  expect 2 "$cr" users import --db "$tmp/db2" "$tmp/u.csv" --owner no-such-user-x
  has "no user 'no-such-user-x'" "unknown --owner" "$err"
  expect 2 "$cr" users import --db "$tmp/db2" "$tmp/u.csv" --owner root:no-such-group-x
  has "no group 'no-such-group-x'" "unknown --owner group" "$err"
  ;;
test)
  # issue 16: callroute test runs a number plan's cases with a pass/fail table
  expect 0 "$cr" test --config "$contoso" "$src/examples/contoso/contoso.tests"
  has "12 cases: 12 passed, 0 failed" "contoso.tests" "$out"
  printf 'route sip:alice@contoso.com +14255550199 => outbound first=NY-GW1\nroute sip:alice@contoso.com 50101 => blocked\nnormalize Redmond.contoso.com 0100 => +14255550100\n' > "$tmp/bad.tests"
  expect 1 "$cr" test --config "$contoso" "$tmp/bad.tests"
  has "FAIL  $tmp/bad.tests:1" "a failed case names its line" "$out"
  has "first: want 'NY-GW1', got 'Red-GW1'" "a failed case says why" "$out"
  has "decision: want 'blocked', got 'internal'" "decision mismatch" "$out"
  has "3 cases: 1 passed, 2 failed" "the count" "$out"
  printf 'route sip:alice@contoso.com => outbound\n' > "$tmp/syntax.tests"
  expect 2 "$cr" test --config "$contoso" "$tmp/syntax.tests"
  has "syntax.tests:1: error:" "a malformed case" "$err"
  # the project's own response-group scenarios run through it
  expect 0 "$cr" test "$src"/tests/rgs/*.events
  has "failed" "rgs scenarios" "$out"
  has " 0 failed" "rgs scenarios all pass" "$out"
  # #expect lines, and a scenario whose output differs
  printf '#! config %s\n0 call c1 sip:a@x sip:serial@contoso.com\n1 hangup c1\n#expect 0.000 c1 answer\n#expect 0.000 c1 moh default\n#expect 0.000 c1 ring sip:s1@contoso.com\n#expect 1.000 c1 cancel sip:s1@contoso.com\n' "$src/tests/rgs/rgs.xml" > "$tmp/e.events"
  expect 0 "$cr" test "$tmp/e.events"
  sed -i 's/#expect 1.000 c1 cancel/#expect 2.000 c1 cancel/' "$tmp/e.events"
  expect 1 "$cr" test "$tmp/e.events"
  has "line 4: want '2.000 c1 cancel sip:s1@contoso.com', got '1.000 c1 cancel sip:s1@contoso.com'" "scenario diff" "$out"
  ;;
diff)
  # issue 16: what a reload would change
  expect 0 "$cr" diff --config "$contoso" --config "$contoso" --from sip:alice@contoso.com --generate 300
  has "0 differences" "a configuration against itself" "$out"
  cp -r "$src/examples/contoso" "$tmp/c2"
  sed -i '0,/<gateway>Red-GW2<\/gateway>/s##<gateway>NY-GW1</gateway>#' "$tmp/c2/contoso.xml"
  printf '+14255550199\nsip:carol@contoso.com +14255550123\n# a comment\n+12145550100\n50101\n' > "$tmp/numbers"
  expect 1 "$cr" diff --config "$contoso" --config "$tmp/c2/contoso.xml" --from sip:alice@contoso.com --numbers "$tmp/numbers"
  has "2 differences" "two numbers change" "$out"
  has "sip:carol@contoso.com +14255550123" "a FROM NUMBER line" "$out"
  has "+ outbound +14255550123 via Red-GW1 (Redmond Local Route), NY-GW1 (Redmond Local Route)" "the new order" "$out"
  expect 1 "$cr" diff --config "$contoso" --config "$tmp/c2/contoso.xml" --from sip:alice@contoso.com
  has "differences" "generated numbers" "$out"
  expect 2 "$cr" diff --config "$contoso"
  expect 2 "$cr" diff --config "$contoso" --config "$tmp/missing.xml"
  ;;
doc)
  # issue 16: a man page generated from the help texts, and bash completion
  man1=$(dirname "$cr")/callroute.1
  [ -s "$man1" ] && ok || bad "no generated man page at $man1"
  has ".SS test" "man page sections" "$(cat "$man1")"
  has "usage: callroute diff" "man page carries each command's help" "$(cat "$man1")"
  if command -v man >/dev/null; then
    expect 0 env MANWIDTH=80 man -l "$man1"
    has "EXIT STATUS" "man renders" "$out"
  fi
  comp=$src/plugin-api/cli/doc/callroute.bash
  out=$(bash -c 'source "$1"; COMP_WORDS=(callroute ro); COMP_CWORD=1; _callroute; echo "${COMPREPLY[*]}"' _ "$comp" 2>&1)
  [ "$out" = route ] && ok || bad "completion of 'ro': $out"
  out=$(bash -c 'source "$1"; COMP_WORDS=(callroute route --sp); COMP_CWORD=2; _callroute; echo "${COMPREPLY[*]}"' _ "$comp" 2>&1)
  [ "$out" = --spread ] && ok || bad "completion of 'route --sp': $out"
  ;;
users)
  # issue 16: users list, show and remove
  expect 0 "$cr" users import --db "$tmp/db" "$src/examples/contoso/users.xml"
  expect 0 "$cr" users list --db "$tmp/db"
  has "sip:alice@contoso.com tel:+14255550100;ext=50100" "users list" "$out"
  has "9 users" "users list count" "$err"
  expect 0 "$cr" users show --db "$tmp/db" sip:alice@contoso.com
  has "delegates: sip:carol@contoso.com" "users show" "$out"
  expect 0 "$cr" users remove --db "$tmp/db" sip:alice@contoso.com
  expect 1 "$cr" users show --db "$tmp/db" sip:alice@contoso.com
  has "no user 'sip:alice@contoso.com'" "removed" "$err"
  expect 0 "$cr" users list --db "$tmp/db"
  has "8 users" "one fewer" "$err"
  has "sip:bob@contoso.com tel:+14255550101;ext=50101" "the others stay" "$out"
  expect 1 "$cr" users remove --db "$tmp/db" sip:nobody@contoso.com
  # the CSV header users --help documents is the one export writes (every column)
  expect 0 "$cr" users export --db "$tmp/db" "$tmp/all.csv" --format csv
  expect 0 "$cr" users --help
  documented=$(printf '%s\n' "$out" | sed -n '/is the header/,/columns in any order/p' | sed '1d;$d' | tr -d ' \n')
  [ "$documented" = "$(head -1 "$tmp/all.csv")" ] || bad "users --help's CSV header is not export's: $documented"
  ;;
*) echo "unknown case $case"; exit 2 ;;
esac
check_done
