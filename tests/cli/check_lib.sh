# Sourced by the command line's contract tests (cli, ops, semantics, workflow lines, bench,
# users, Lua): a scratch directory $tmp removed at exit, the counts $pass and $fail, and the
# checks below; each test ends with `check_done LABEL`. $check_timeout (seconds), when set before
# sourcing, bounds each command `expect` runs.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
# expect STATUS CMD... : runs CMD, checks its exit status; stdout in $out, stderr in $err
expect() {
  local want=$1; shift
  if [ -n "${check_timeout:-}" ]; then timeout "$check_timeout" "$@"; else "$@"; fi \
    >"$tmp/out" 2>"$tmp/err"; local got=$?
  out=$(cat "$tmp/out"); err=$(cat "$tmp/err")
  if [ "$got" = "$want" ]; then ok; else bad "exit $got (want $want): $*"; head -5 "$tmp/err"; fi
}
# has TEXT LABEL HAYSTACK, hasnt TEXT LABEL HAYSTACK: whether HAYSTACK holds TEXT
has() { case "$3" in *"$1"*) ok ;; *) bad "$2 lacks: $1"; printf '%s\n' "$3" | head -8 ;; esac; }
hasnt() { case "$3" in *"$1"*) bad "$2 has: $1"; printf '%s\n' "$3" | head -8 ;; *) ok ;; esac; }
# json EXPR: a Python expression over j = json.loads(out) holds
json() {
  if python3 -c "import json,sys; j=json.loads(sys.stdin.read()); sys.exit(0 if ($1) else 1)" <<<"$out"; then ok
  else bad "json: $1"; echo "$out" | head -3; fi
}
# check_done LABEL: prints the counts; true when nothing failed
check_done() { echo "${1:+$1: }$pass passed, $fail failed"; [ "$fail" = 0 ]; }
