#!/usr/bin/env bash
# Issue 16 (operators): the configuration schema and simulate --stats.
#   ops_test.sh CALLROUTE_BINARY SOURCE_DIR CASE
# Cases: schema (check validates structure first), schema_files (every example and fixture
# validates with xmllint --relaxng), stats (simulate --stats figures).
set -u
cr=$1 src=$2 case=$3
rng=$src/schema/callroute.rng
contoso=$src/examples/contoso/contoso.xml
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { pass=$((pass+1)); }
bad() { fail=$((fail+1)); echo "FAIL: $*"; }
expect() {
  local want=$1; shift
  "$@" >"$tmp/out" 2>"$tmp/err"; local got=$?
  out=$(cat "$tmp/out"); err=$(cat "$tmp/err")
  if [ "$got" = "$want" ]; then ok; else bad "exit $got (want $want): $*"; echo "$err" | head -5; fi
}
has() { case "$3" in *"$1"*) ok ;; *) bad "$2 lacks: $1"; printf '%s\n' "$3" | head -5 ;; esac; }
hasnt() { case "$3" in *"$1"*) bad "$2 has: $1"; printf '%s\n' "$3" | head -5 ;; *) ok ;; esac; }

case $case in
schema)
  cp "$src"/examples/contoso/*.xml "$tmp/"
  # a misspelt element: the schema names it with file:line; no semantic check runs on it
  sed 's/<gateway name="Red-GW1"/<gatway name="Red-GW1"/' "$contoso" > "$tmp/typo.xml"
  line=$(grep -n '<gatway' "$tmp/typo.xml" | cut -d: -f1)
  expect 2 "$cr" check --config "$tmp/typo.xml"
  has "typo.xml:$line: error: schema: Did not expect element gatway there" "misspelt element" "$err"
  hasnt "unknown gateway" "misspelt element (semantic errors after a schema error)" "$err"
  # a misspelt attribute, in a file without the namespace (validated as if it had it)
  sed -e 's/ xmlns="urn:callroute:config:1"//' -e 's/<gateway name="Red-GW1" address=/<gateway name="Red-GW1" adress=/' \
      "$contoso" > "$tmp/attr.xml"
  line=$(grep -n 'adress=' "$tmp/attr.xml" | cut -d: -f1)
  expect 2 "$cr" check --config "$tmp/attr.xml"
  has "attr.xml:$line: error: schema: Invalid attribute adress for element gateway" "misspelt attribute" "$err"
  # an error in an included file names that file
  sed "s/enterpriseVoice=/enterpriseVoise=/" "$src/examples/contoso/users.xml" > "$tmp/users.xml"
  expect 2 "$cr" check --config "$tmp/contoso.xml"
  has "users.xml:" "included file" "$err"
  has "error: schema:" "included file" "$err"
  # a valid file passes, with or without the namespace
  expect 0 "$cr" check --config "$contoso"
  sed 's/ xmlns="urn:callroute:config:1"//' "$src/tests/cli/semantics/pbx.xml" > "$tmp/nons.xml"
  expect 0 "$cr" check --config "$tmp/nons.xml"
  ;;
schema_files)
  command -v xmllint >/dev/null || { echo "SKIP: no xmllint"; exit 77; }
  n=0
  while IFS= read -r f; do
    # fuzz corpora hold broken files on purpose; tests/cli/broken files break semantics only
    case "$f" in */tests/fuzz/*) continue ;; esac
    grep -q '<callroute' "$f" || continue
    [ "$(basename "$f")" = not_well_formed.xml ] && continue
    n=$((n+1))
    if xmllint --noout --relaxng "$rng" "$f" >"$tmp/x" 2>&1; then ok
    else bad "$f does not validate:"; head -5 "$tmp/x"; fi
  done < <(find "$src/examples" "$src/tests" -name '*.xml' | sort)
  [ "$n" -ge 20 ] && ok || bad "only $n configuration files found"
  echo "validated $n files"
  ;;
*) echo "unknown case $case"; exit 2 ;;
esac
echo "$case: $pass passed, $fail failed"
[ "$fail" = 0 ]
