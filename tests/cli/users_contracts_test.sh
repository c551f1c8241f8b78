#!/usr/bin/env bash
# Contract audit of the user directory's command line (issues 5 and 16, SPEC §2 "User"):
# one case per mismatch found and mended (helper H38u).
#   users_contracts_test.sh CALLROUTE_BINARY SOURCE_DIR CASE
# CASE: pbx_bool, csv_text, line_ext, xml_roundtrip, input_dir, show_key, csv_records, merge_swap, xml_import,
#       reader_empty_dir, options, owner_first, pipe, line_dup
set -u
cr=$1 src=$2 case=$3
source "$(dirname "$0")/check_lib.sh"
hdr=uri,line,enterpriseVoice,voicePolicy,locationProfile,voicemail,simultaneousRing,forwardImmediate,noAnswerAfter,noAnswerTarget,teamCallDelay,teamCall,delegates,pbxIntegration

case $case in
pbx_bool)
  # Issue 16: "CSV import ... takes booleans case-insensitively": pbxIntegration too, as
  # enterpriseVoice (a spreadsheet writes TRUE and FALSE in every boolean column).
  printf 'uri,line,enterpriseVoice,pbxIntegration\nsip:p1@contoso.com,tel:+14255551001,TRUE,TRUE\nsip:p2@contoso.com,tel:+14255551002,true, False \nsip:p3@contoso.com,tel:+14255551003,true,1\n' >"$tmp/pbx.csv"
  expect 0 "$cr" users import --db "$tmp/db" "$tmp/pbx.csv"
  expect 0 "$cr" users show --db "$tmp/db" sip:p1@contoso.com --json
  json 'j["pbxIntegration"] is True'
  expect 0 "$cr" users show --db "$tmp/db" sip:p2@contoso.com --json
  json 'j["pbxIntegration"] is not True'
  expect 0 "$cr" users show --db "$tmp/db" sip:p3@contoso.com --json
  json 'j["pbxIntegration"] is True'
  # anything else is still refused with file:line
  printf 'uri,pbxIntegration\nsip:p4@contoso.com,yes\n' >"$tmp/bad.csv"
  expect 1 "$cr" users import --db "$tmp/db" "$tmp/bad.csv"
  has "bad.csv:2: error: user 'sip:p4@contoso.com': pbxIntegration is 'yes'" "bad boolean" "$err"
  ;;
csv_text)
  # SPEC §2 (users imported into LMDB) and issue 5 (export): a CSV field that is not UTF-8
  # or holds a control character is refused with file:line and the column, instead of being
  # stored and exported as XML that no parser (the import included) accepts.
  printf 'uri,line,enterpriseVoice,voicePolicy\nsip:ok@contoso.com,tel:+14255551001,true,Pol\n' >"$tmp/ok.csv"
  expect 0 "$cr" users import --db "$tmp/db" "$tmp/ok.csv"
  printf 'uri,line,enterpriseVoice,voicePolicy\nsip:u1@contoso.com,tel:+14255551002,true,Pol\xc3\n' >"$tmp/utf.csv"
  expect 1 "$cr" users import --db "$tmp/db" "$tmp/utf.csv"
  has "utf.csv:2: error: user 'sip:u1@contoso.com': column 'voicePolicy' has bytes that are not UTF-8" "invalid UTF-8" "$err"
  printf 'uri,line,enterpriseVoice\nsip:u\xff@contoso.com,tel:+14255551003,true\n' >"$tmp/utf2.csv"
  expect 1 "$cr" users import --db "$tmp/db" "$tmp/utf2.csv"
  has "utf2.csv:2: error: column 'uri' has bytes that are not UTF-8" "invalid UTF-8 in the uri" "$err"
  printf 'uri,line,enterpriseVoice\nsip:u\xed\xa0\x80@contoso.com,tel:+14255551003,true\n' >"$tmp/sur.csv"
  expect 1 "$cr" users import --db "$tmp/db" "$tmp/sur.csv"
  printf 'uri,line,enterpriseVoice,voicePolicy\nsip:u2@contoso.com,tel:+14255551004,true,a\001b\n' >"$tmp/ctl.csv"
  expect 1 "$cr" users import --db "$tmp/db" "$tmp/ctl.csv"
  has "ctl.csv:2: error: user 'sip:u2@contoso.com': column 'voicePolicy' has a control character" "control character" "$err"
  # nothing imported: the directory holds the first user only, and exports as XML that imports
  expect 0 "$cr" users list --db "$tmp/db"
  has "1 users" "all or nothing" "$err"
  # valid UTF-8 (two-, three- and four-byte characters) is text like any other
  printf 'uri,line,enterpriseVoice,voicePolicy\nsip:j\xc3\xbcrgen@contoso.com,tel:+14255551005,true,Politique \xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\x9e\n' >"$tmp/good.csv"
  expect 0 "$cr" users import --db "$tmp/db" "$tmp/good.csv"
  expect 0 "$cr" users export --db "$tmp/db" "$tmp/all.xml"
  expect 0 "$cr" users import --db "$tmp/db2" "$tmp/all.xml"
  has "2 users read" "the XML export imports" "$out"
  ;;
line_ext)
  # SPEC §2: a line URI is tel:+14255550100;ext=50100 or tel:5550100 (guide: Tel:+14255550100;
  # ext=50100). An ;ext= without digits is refused with file:line and the user, not stored as a
  # key that no dialed number reaches.
  for l in 'tel:+14255551009;ext=' 'tel:+14255551010;ext=abc' 'tel:+14255551011;ext=50a11' 'tel:+14255551012;ext=;phone-context=x'; do
    printf 'uri,line,enterpriseVoice\nsip:x@contoso.com,%s,true\n' "$l" >"$tmp/l.csv"
    expect 1 "$cr" users import --db "$tmp/db" "$tmp/l.csv"
    has "l.csv:2: error: user 'sip:x@contoso.com': line '$l'" "bad ;ext= ($l)" "$err"
  done
  printf '<users xmlns="urn:callroute:config:1">\n  <user uri="sip:y@contoso.com" line="tel:+14255551013;ext=x1" enterpriseVoice="true"/>\n</users>\n' >"$tmp/l.xml"
  expect 1 "$cr" users import --db "$tmp/db" "$tmp/l.xml"
  has "l.xml:2: error: user 'sip:y@contoso.com': line" "bad ;ext= in XML" "$err"
  # the forms the guide gives still import, the ext in any case of its name
  printf 'uri,line,enterpriseVoice\nsip:a@contoso.com,tel:+14255551014;ext=1014,true\nsip:b@contoso.com,tel:+14255551015;EXT=1015,true\nsip:c@contoso.com,tel:5551016,true\n' >"$tmp/g.csv"
  expect 0 "$cr" users import --db "$tmp/db" "$tmp/g.csv"
  has "3 users read" "good lines" "$out"
  ;;
xml_roundtrip)
  # Issue 5: export, then import gives the same directory: line breaks and tabs inside a field
  # (RFC 4180 quoting) and a team-call delay without members survive the XML export.
  printf '%s\n' "$hdr" >"$tmp/u.csv"
  printf 'sip:a@contoso.com,tel:+14255551001,true,"two\nlines",,,,,,,7,,,\nsip:b@contoso.com,tel:+14255551002;ext=1002,true,"tab\there, ""quoted""",,,,,20,voicemail,,,,\n' >>"$tmp/u.csv"
  expect 0 "$cr" users import --db "$tmp/db" "$tmp/u.csv"
  expect 0 "$cr" users export --db "$tmp/db" "$tmp/u.xml"
  expect 0 "$cr" users import --db "$tmp/db2" "$tmp/u.xml"
  expect 0 "$cr" users export --db "$tmp/db" "$tmp/a.csv" --format csv
  expect 0 "$cr" users export --db "$tmp/db2" "$tmp/b.csv" --format csv
  if cmp -s "$tmp/a.csv" "$tmp/b.csv"; then ok; else bad "CSV -> XML -> import changed users"; diff "$tmp/a.csv" "$tmp/b.csv" | head -8; fi
  expect 0 "$cr" users show --db "$tmp/db2" sip:a@contoso.com --json
  json 'j["voicePolicy"] == "two\nlines" and j["teamCallDelay"] == 7'
  # and the CSV export imports to the same directory too
  expect 0 "$cr" users import --db "$tmp/db3" "$tmp/a.csv"
  expect 0 "$cr" users export --db "$tmp/db3" "$tmp/c.csv" --format csv
  cmp -s "$tmp/a.csv" "$tmp/c.csv" && ok || bad "CSV -> CSV changed users"
  ;;
input_dir)
  # A FILE that is a directory: a clear error naming it (not "no header line"), exit 2 as for
  # a file that cannot be opened.
  mkdir "$tmp/in"
  expect 2 "$cr" users import --db "$tmp/db" "$tmp/in"
  has "$tmp/in: error: cannot open: Is a directory" "directory as FILE" "$err"
  [ -e "$tmp/db/data.mdb" ] && [ "$("$cr" users list --db "$tmp/db" 2>&1)" != "0 users" ] && bad "something was imported" || ok
  ;;
show_key)
  # The directory identifies a user as its lookups do (cr_uri_key: the scheme and the host in
  # any case, no port or parameters; the user part as written): an import of SIP:Ann@CONTOSO.COM
  # replaces sip:Ann@contoso.com and `route --from` finds either. show and remove agree.
  printf 'uri,line,enterpriseVoice\nsip:Ann@Contoso.com,tel:+14255551001,true\nsip:bea@contoso.com,tel:+14255551002,true\n' >"$tmp/u.csv"
  expect 0 "$cr" users import --db "$tmp/db" "$tmp/u.csv"
  expect 0 "$cr" route --config "$src/examples/contoso/contoso.xml" --db "$tmp/db" --from 'SIP:Ann@contoso.COM;transport=tcp' +14255551002 --json
  json 'j["decision"] == "internal"'
  expect 0 "$cr" users show --db "$tmp/db" 'SIP:Ann@contoso.COM;transport=tcp'
  has "line: tel:+14255551001" "show by another form of the URI" "$out"
  expect 0 "$cr" users show --db "$tmp/db" '<sips:Ann@contoso.com:5061>' --json
  json 'j["uri"] == "sip:Ann@Contoso.com"'
  # the user part is case-sensitive (RFC 3261 19.1.4): ann is another user
  expect 1 "$cr" users show --db "$tmp/db" sip:ann@contoso.com
  has "no user 'sip:ann@contoso.com'" "user part compared as written" "$err"
  expect 1 "$cr" users remove --db "$tmp/db" sip:ann@contoso.com
  expect 0 "$cr" users remove --db "$tmp/db" sip:Ann@contoso.com
  expect 0 "$cr" users list --db "$tmp/db"
  hasnt "Ann" "removed" "$out"
  has "sip:bea@contoso.com tel:+14255551002" "bea stays" "$out"
  ;;
csv_records)
  # Issue 16 (spreadsheets): a UTF-8 byte order mark before a quoted header, as PowerShell's
  # Export-Csv -Encoding UTF8 writes it ("uri","line",... after the BOM), is stripped too.
  printf '\xef\xbb\xbf"uri","line","enterpriseVoice"\r\n"sip:ps@contoso.com","tel:+14255550123","True"\r\n' >"$tmp/ps.csv"
  expect 0 "$cr" users import --db "$tmp/db" "$tmp/ps.csv"
  has "1 users read" "BOM before a quoted header" "$out"
  expect 0 "$cr" users show --db "$tmp/db" sip:ps@contoso.com --json
  json 'j["enterpriseVoice"] is True and j["line"] == "tel:+14255550123"'
  # malformed records: the message says what is wrong, with the record's line
  printf 'uri,line,enterpriseVoice\nsip:a@contoso.com,tel:+14255550001,true\n"sip:b@contoso.com,tel:+14255550002,true\nsip:c@contoso.com,tel:+14255550003,true\n' >"$tmp/unc.csv"
  expect 1 "$cr" users import --db "$tmp/db" "$tmp/unc.csv"
  has "unc.csv:3: error: a quoted field is not closed" "unclosed quote" "$err"
  hasnt "0 fields" "unclosed quote" "$err"
  python3 -c "print('uri,line'); print('sip:w@contoso.com,tel:+14255550004' + ','*70)" >"$tmp/many.csv"
  expect 1 "$cr" users import --db "$tmp/db" "$tmp/many.csv"
  has "many.csv:2: error: more than 64 fields, the header has 2" "too many fields" "$err"
  python3 -c "print(','.join(['uri'] + ['x%d' % i for i in range(70)]))" >"$tmp/wide.csv"
  expect 1 "$cr" users import --db "$tmp/db" "$tmp/wide.csv"
  has "wide.csv:1: error: the header has more than 64 columns" "too many columns" "$err"
  # a NUL byte ended the record there (the rest of the line was dropped without a word)
  printf 'uri,line,enterpriseVoice\nsip:n1@contoso.com,tel:+14255559970,true\0,garbage\n' >"$tmp/nul.csv"
  expect 1 "$cr" users import --db "$tmp/db" "$tmp/nul.csv"
  has "nul.csv:2: error: a NUL byte: not a text file" "NUL byte" "$err"
  printf 'uri,line,enterpriseVoice,voicePolicy\nsip:n2@contoso.com,tel:+14255559971,true,"a\nb\0c"\n' >"$tmp/nul2.csv"
  expect 1 "$cr" users import --db "$tmp/db" "$tmp/nul2.csv"
  has "nul2.csv:3: error: a NUL byte" "NUL byte in a quoted field's next line" "$err"
  # a header that is not text is not echoed back as column names
  printf 'uri,l\xffine\n' >"$tmp/hb.csv"
  expect 1 "$cr" users import --db "$tmp/db" "$tmp/hb.csv"
  has "hb.csv:1: error: column 2 of the header has bytes that are not UTF-8" "binary header" "$err"
  printf '\xef\xbb\xbf' >"$tmp/bom.csv"
  expect 1 "$cr" users import --db "$tmp/db" "$tmp/bom.csv"
  has "bom.csv:1: error: no header line" "a BOM alone" "$err"
  ;;
merge_swap)
  # users --help: "Users already in the directory are replaced" by a (merging) import. Two
  # users swapping numbers in one file is what the same file does with --replace, not an
  # error; the old numbers then reach the new holders (issue 5: reverse lookup).
  x=$src/examples/contoso/contoso.xml
  printf 'uri,line,enterpriseVoice\nsip:m1@contoso.com,tel:+14255559001,true\nsip:m2@contoso.com,tel:+14255559002;ext=9002,true\nsip:m4@contoso.com,tel:+14255559004,true\n' >"$tmp/a.csv"
  expect 0 "$cr" users import --db "$tmp/db" "$tmp/a.csv"
  printf 'uri,line,enterpriseVoice\nsip:m1@contoso.com,tel:+14255559002;ext=9002,true\nsip:m2@contoso.com,tel:+14255559001,true\n' >"$tmp/swap.csv"
  expect 0 "$cr" users import --db "$tmp/db" "$tmp/swap.csv"
  has "2 users read (0 added, 2 replaced, 0 removed)" "swap by a merging import" "$out"
  expect 0 "$cr" route --config "$x" --db "$tmp/db" --from sip:alice@contoso.com +14255559001 --json
  json 'j["decision"] == "internal" and j["target"] == "sip:m2@contoso.com"'
  for n in +14255559002 'tel:+14255559002;ext=9002'; do
    expect 0 "$cr" route --config "$x" --db "$tmp/db" --from sip:alice@contoso.com "$n" --json
    json 'j["decision"] == "internal" and j["target"] == "sip:m1@contoso.com"'
  done
  # a number a user the file does not replace holds is still refused, with file:line
  printf 'uri,line,enterpriseVoice\nsip:m5@contoso.com,tel:+14255559004,true\n' >"$tmp/taken.csv"
  expect 1 "$cr" users import --db "$tmp/db" "$tmp/taken.csv"
  has "taken.csv:2: error: user 'sip:m5@contoso.com': line 'tel:+14255559004' is already the line of user 'sip:m4@contoso.com' (in the directory)" "taken line" "$err"
  # the bare number of an extension line the moved user gave up goes to the file's user with an
  # extension on it, even when that user comes first in the file
  printf 'uri,line,enterpriseVoice\nsip:m6@contoso.com,tel:+14255559002;ext=9006,true\nsip:m1@contoso.com,tel:+14255559007,true\n' >"$tmp/move.csv"
  expect 0 "$cr" users import --db "$tmp/db" "$tmp/move.csv"
  expect 0 "$cr" route --config "$x" --db "$tmp/db" --from sip:alice@contoso.com +14255559002 --json
  json 'j["decision"] == "internal" and j["target"] == "sip:m6@contoso.com"'
  # and the number m1 had is no longer m1's
  expect 0 "$cr" route --config "$x" --db "$tmp/db" --from sip:alice@contoso.com 'tel:+14255559002;ext=9002' --json
  json 'j.get("target") != "sip:m1@contoso.com"'
  expect 0 "$cr" route --config "$x" --db "$tmp/db" --from sip:alice@contoso.com +14255559007 --json
  json 'j["target"] == "sip:m1@contoso.com"'
  ;;
xml_import)
  # Issue 5: XML import takes "the <users> shape". A configuration whose users sit in an
  # <include>d file imported 0 users without a word, and with --replace emptied the directory;
  # an XML file without <users>, an unknown element in <users> and a second <forwarding> were
  # silently taken too. Each is now an error with file:line, and nothing changes.
  printf 'uri,line,enterpriseVoice\nsip:keep@contoso.com,tel:+14255559901,true\n' >"$tmp/keep.csv"
  expect 0 "$cr" users import --db "$tmp/db" "$tmp/keep.csv"
  expect 1 "$cr" users import --db "$tmp/db" "$src/examples/contoso/contoso.xml" --replace
  has "contoso.xml:15: error: <include href=\"profiles.xml\"> is not followed" "include refused" "$err"
  expect 1 "$cr" users import --db "$tmp/db" "$src/examples/contoso/profiles.xml" --replace
  has "profiles.xml:15: error: no <users> element" "no <users>" "$err"
  expect 0 "$cr" users list --db "$tmp/db"
  has "sip:keep@contoso.com" "the directory kept its user" "$out"
  printf '<users xmlns="urn:callroute:config:1">\n  <user uri="sip:a@contoso.com"/>\n  <usr uri="sip:b@contoso.com"/>\n</users>\n' >"$tmp/typo.xml"
  expect 1 "$cr" users import --db "$tmp/db" "$tmp/typo.xml"
  has "typo.xml:3: error: unknown element <usr> in <users>" "unknown element" "$err"
  printf '<users xmlns="urn:callroute:config:1">\n  <user uri="sip:a@contoso.com">\n    <forwarding immediate="+14255550123"/>\n    <forwarding noAnswerAfter="5"/>\n  </user>\n</users>\n' >"$tmp/twice.xml"
  expect 1 "$cr" users import --db "$tmp/db" "$tmp/twice.xml"
  has "twice.xml:4: error: user 'sip:a@contoso.com': <forwarding> given twice" "given twice" "$err"
  # the same shapes the configuration's loader refuses
  sed 's|</users>|<include href="x.xml"/></users>|' "$src/examples/contoso/users.xml" >"$tmp/inc.xml"
  printf '<users xmlns="urn:callroute:config:1"/>\n' >"$tmp/x.xml"
  expect 1 "$cr" users import --db "$tmp/db" "$tmp/inc.xml"
  # an empty <users/> is an explicit empty list; users.xml and a whole <callroute> with inline users import
  expect 0 "$cr" users import --db "$tmp/db" "$tmp/x.xml"
  has "0 users read" "empty <users/>" "$out"
  expect 0 "$cr" users import --db "$tmp/db" "$src/examples/contoso/users.xml"
  has "9 users read" "users.xml" "$out"
  ;;
reader_empty_dir)
  # A reader (check, route, inbound, users list|show|export) given an empty directory says it
  # is not a user directory, exit 2, and leaves it as it was: LMDB created data.mdb and
  # lock.mdb in it (files of the user who ran check, in the SIP server's directory).
  x=$src/examples/contoso/contoso.xml
  mkdir "$tmp/empty"
  expect 2 "$cr" check --config "$x" --db "$tmp/empty"
  has "$tmp/empty: not a user directory (run 'callroute users import')" "check" "$err"
  expect 2 "$cr" route --config "$x" --db "$tmp/empty" --from sip:alice@contoso.com +14255550100
  expect 2 "$cr" users list --db "$tmp/empty"
  has "not a user directory" "users list" "$err"
  expect 2 "$cr" users export --db "$tmp/empty"
  left=$(ls -A "$tmp/empty")
  [ -z "$left" ] && ok || bad "a reader left files in an empty directory: $left"
  # an import then makes it a directory, as before
  printf 'uri,line,enterpriseVoice\nsip:e@contoso.com,tel:+14255559950,true\n' >"$tmp/e.csv"
  expect 0 "$cr" users import --db "$tmp/empty" "$tmp/e.csv"
  expect 0 "$cr" users list --db "$tmp/empty"
  has "sip:e@contoso.com" "imported" "$out"
  ;;
options)
  # Issue 16 ("Silently ignored options ... One option table per subcommand"): an option the
  # users subcommand does not take is refused with exit 2 and nothing is done. users import
  # --format xml read a CSV anyway; users remove --format csv removed the user.
  printf 'uri,line,enterpriseVoice\nsip:o1@contoso.com,tel:+14255559960,true\n' >"$tmp/o.csv"
  expect 2 "$cr" users import --db "$tmp/db" "$tmp/o.csv" --format xml
  has "callroute users import: --format does not apply to import" "import --format" "$err"
  [ -e "$tmp/db/data.mdb" ] && bad "import --format imported" || ok
  expect 0 "$cr" users import --db "$tmp/db" "$tmp/o.csv" --replace --json
  expect 2 "$cr" users remove --db "$tmp/db" sip:o1@contoso.com --format csv
  has "--format does not apply to remove" "remove --format" "$err"
  expect 2 "$cr" users list --db "$tmp/db" --replace
  has "--replace does not apply to list" "list --replace" "$err"
  expect 2 "$cr" users show --db "$tmp/db" sip:o1@contoso.com --owner root
  has "--owner does not apply to show" "show --owner" "$err"
  expect 2 "$cr" users export --db "$tmp/db" --json
  has "--json does not apply" "export --json" "$err"
  expect 0 "$cr" users show --db "$tmp/db" sip:o1@contoso.com --json
  json 'j["uri"] == "sip:o1@contoso.com"'
  expect 0 "$cr" users export --db "$tmp/db" --format csv
  has "sip:o1@contoso.com,tel:+14255559960,true" "export --format csv" "$out"
  ;;
owner_first)
  # users --help: "All or nothing: on an error nothing changes". An import whose --owner could
  # not be given (a user other than root giving the directory to root) imported the users and
  # then failed with exit 2; it is now refused before anything is written.
  if [ "$(id -u)" != 0 ] || ! command -v setpriv >/dev/null; then echo "needs root and setpriv"; exit 77; fi
  as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
  chmod 777 "$tmp"
  printf 'uri,line,enterpriseVoice\nsip:w1@contoso.com,tel:+14255559980,true\n' >"$tmp/w.csv"
  chmod 644 "$tmp/w.csv"
  expect 2 as_nobody "$cr" users import --db "$tmp/db" "$tmp/w.csv" --owner root
  has "$tmp/db: cannot give it to uid 0 gid 0" "the refusal names the directory" "$err"
  has "nothing imported" "nothing imported" "$err"
  [ -e "$tmp/db" ] && bad "the refused import left $tmp/db" || ok
  expect 0 as_nobody "$cr" users import --db "$tmp/db" "$tmp/w.csv" --owner nobody
  printf 'uri,line,enterpriseVoice\nsip:w2@contoso.com,tel:+14255559981,true\n' >"$tmp/w2.csv"
  chmod 644 "$tmp/w2.csv"
  expect 2 as_nobody "$cr" users import --db "$tmp/db" "$tmp/w2.csv" --owner nobody:root --replace
  expect 0 as_nobody "$cr" users list --db "$tmp/db"
  has "sip:w1@contoso.com" "the directory is unchanged" "$out"
  hasnt "sip:w2@contoso.com" "the directory is unchanged" "$out"
  ;;
pipe)
  # users import FILE where FILE is a pipe (/dev/stdin, a FIFO): the format was told from the
  # first bytes and the file rewound, which a pipe cannot do, so CSV lost its first letter
  # ("unknown column 'ri'") and XML read as empty. Both import as from a regular file.
  printf 'uri,line,enterpriseVoice\nsip:p1@contoso.com,tel:+14255559990,true\n' >"$tmp/p.csv"
  out=$(cat "$tmp/p.csv" | "$cr" users import --db "$tmp/db" /dev/stdin 2>"$tmp/err"); rc=$?
  [ $rc = 0 ] && ok || { bad "CSV through a pipe: exit $rc"; cat "$tmp/err"; }
  has "1 users read" "CSV through a pipe" "$out"
  out=$(cat "$src/examples/contoso/users.xml" | "$cr" users import --db "$tmp/db" /dev/stdin 2>"$tmp/err"); rc=$?
  [ $rc = 0 ] && ok || { bad "XML through a pipe: exit $rc"; cat "$tmp/err"; }
  has "9 users read" "XML through a pipe" "$out"
  # errors keep their lines (blank lines before the header count)
  printf '\n\nuri,line\nsip:a@contoso.com,bad\n' | "$cr" users import --db "$tmp/db" /dev/stdin 2>"$tmp/err" >/dev/null
  has "/dev/stdin:4: error: user 'sip:a@contoso.com': line 'bad'" "line numbers through a pipe" "$(cat "$tmp/err")"
  mkfifo "$tmp/fifo"
  cat "$tmp/p.csv" >"$tmp/fifo" &
  expect 0 "$cr" users import --db "$tmp/db" "$tmp/fifo"
  wait
  has "1 users read" "CSV through a FIFO" "$out"
  ;;
line_dup)
  # Two users of one file with the same line: the error names the later user's file:line and
  # the user who has it with that user's file:line too, as the configuration's check does
  # ("... is already the line of user 'X' (file:line)"); the first keeps nothing: all or nothing.
  printf 'uri,line,enterpriseVoice\nsip:d1@contoso.com,tel:+14255557001,true\nsip:d9@contoso.com,tel:+14255557009,true\nsip:d2@contoso.com,tel:+1-425-555-7001,true\n' >"$tmp/dup.csv"
  expect 1 "$cr" users import --db "$tmp/db" "$tmp/dup.csv"
  has "dup.csv:4: error: user 'sip:d2@contoso.com': line 'tel:+1-425-555-7001' is already the line of user 'sip:d1@contoso.com' ($tmp/dup.csv:2)" "duplicate line" "$err"
  ;;
*) echo "unknown case $case"; exit 2 ;;
esac
check_done "$case"
