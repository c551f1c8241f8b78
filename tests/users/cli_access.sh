#!/usr/bin/env bash
# The command line where files are out of reach (cli_test.sh style):
#   cli_access.sh CALLROUTE_BINARY SOURCE_DIR
# - includes outside the configuration's directory are refused unless --include-dir allows
#   them (check and route); a FIFO include is refused without blocking;
# - a user directory of root's files is read by `nobody` with CALLROUTE_DB_IMMUTABLE=1, and
#   without it the error says why (skipped when not root or setpriv is missing).
set -u
cr=$1 src=$2
check_timeout=20 # a FIFO include must be refused, not wait
source "$(dirname "$0")/../cli/check_lib.sh"

mkdir -p "$tmp/conf" "$tmp/shared"
cp "$src/tests/users/plan.xml" "$tmp/shared/plan.xml"
printf '<callroute xmlns="urn:callroute:config:1">\n  <include href="../shared/plan.xml"/>\n</callroute>\n' \
  > "$tmp/conf/main.xml"
expect 2 "$cr" check --config "$tmp/conf/main.xml"
has "main.xml:2: error: include '$tmp/conf/../shared/plan.xml': outside the configuration's directory" \
  "check without --include-dir" "$err"
expect 0 "$cr" check --config "$tmp/conf/main.xml" --include-dir "$tmp/shared"
has "ok" "check with --include-dir" "$out"
expect 0 "$cr" route --config "$tmp/conf/main.xml" --include-dir "$tmp/shared" \
  --from sip:alice@contoso.com 50201 --json
expect 2 "$cr" route --config "$tmp/conf/main.xml" --from sip:alice@contoso.com 50201
has "outside the configuration's directory" "route without --include-dir" "$err"
expect 2 "$cr" check --config "$tmp/conf/main.xml" --include-dir "$tmp/nowhere"
has "include directory '$tmp/nowhere'" "a missing include directory" "$err"
mkfifo "$tmp/conf/pipe.xml"
printf '<callroute>\n<include href="pipe.xml"/>\n</callroute>\n' > "$tmp/conf/fifo.xml"
expect 2 "$cr" check --config "$tmp/conf/fifo.xml"
has "not a regular file (a FIFO)" "a FIFO include" "$err"

if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
  chmod 755 "$tmp"
  expect 0 "$cr" users import --db "$tmp/db" "$src/tests/users/directory.csv"
  chmod 755 "$tmp/db"
  nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups)
  cp "$src/tests/users/plan.xml" "$tmp/plan.xml"; chmod 644 "$tmp/plan.xml"
  # the reason is logged (a warning the quiet mode would hide)
  expect 2 "${nobody[@]}" env -u CALLROUTE_QUIET "$cr" inbound --config "$tmp/plan.xml" --db "$tmp/db" --from sip:alice@contoso.com 50200
  has "CALLROUTE_DB_IMMUTABLE=1" "a reader without write access" "$err"
  expect 0 "${nobody[@]}" env CALLROUTE_DB_IMMUTABLE=1 "$cr" inbound --config "$tmp/plan.xml" --db "$tmp/db" \
    --from sip:alice@contoso.com 50200 --json
  has '"callee": "sip:zoe@contoso.com"' "an immutable directory read by nobody" "$out"
else
  echo "not root or no setpriv: the read-only directory cases are skipped"
fi
check_done
