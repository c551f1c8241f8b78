#!/bin/bash
# `callroute compile` and `check` run themselves again once with glibc's malloc asking for
# transparent huge pages (GLIBC_TUNABLES glibc.malloc.hugetlb=1, added to what is there), not when
# the environment already names that tunable; no other command does; --library before the
# command is kept; the image is the same byte for byte either way. Traced with strace.
#   huge_pages_test.sh CALLROUTE SOURCE_DIR
source "$(dirname "$0")/script_lib.sh"
command -v strace >/dev/null || { echo "FAIL: strace is needed (scripts/setup.sh installs it)"; exit 1; }
# LeakSanitizer cannot run under ptrace (the sanitizer build): leaks are other tests' business
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
xml=$src/examples/contoso/contoso.xml
lib=$(dirname "$cli")/libcallroute.so.1

# traced CASE ARGS...: the execve lines of the command, in $tmp/CASE
traced() {
    local case=$1
    shift
    strace -f -qq -e trace=execve -v -s 4096 -o "$tmp/$case" "$@" > "$tmp/$case.out" 2>&1 ||
        fail "$case: exit $? ($(head -3 "$tmp/$case.out"))"
    grep -c 'execve(' "$tmp/$case" > "$tmp/$case.n"
}
execs() { cat "$tmp/$1.n"; }

traced plain env -u GLIBC_TUNABLES "$cli" compile --config "$xml" -o "$tmp/a.plan"
[ "$(execs plain)" = 3 ] || fail "compile: $(execs plain) execve, not env + 2"
grep -q '"/proc/self/exe", \["'"$cli"'", "compile"' "$tmp/plain" || fail "compile: not run again with its arguments"
grep '/proc/self/exe' "$tmp/plain" | grep -q '"GLIBC_TUNABLES=glibc.malloc.hugetlb=1"' ||
    fail "compile: run again without GLIBC_TUNABLES=glibc.malloc.hugetlb=1"

traced off env GLIBC_TUNABLES=glibc.malloc.hugetlb=0 "$cli" compile --config "$xml" -o "$tmp/b.plan"
[ "$(execs off)" = 2 ] || fail "hugetlb named already: $(execs off) execve, not env + 1"
cmp -s "$tmp/a.plan" "$tmp/b.plan" || fail "the image differs with huge pages"

traced other env GLIBC_TUNABLES=glibc.malloc.check=0 "$cli" check --config "$xml"
[ "$(execs other)" = 3 ] || fail "check: $(execs other) execve, not env + 2"
grep '/proc/self/exe' "$tmp/other" | grep -q '"GLIBC_TUNABLES=glibc.malloc.check=0:glibc.malloc.hugetlb=1"' ||
    fail "check: the tunable not added to the ones there"

traced lib env -u GLIBC_TUNABLES "$cli" --library "$lib" compile --config "$xml" -o "$tmp/c.plan"
grep -q '"/proc/self/exe", \["'"$cli"'", "--library", "'"$lib"'", "compile"' "$tmp/lib" ||
    fail "--library before the command: not kept"
cmp -s "$tmp/a.plan" "$tmp/c.plan" || fail "the image differs with --library"

traced route env -u GLIBC_TUNABLES "$cli" route --config "$xml" --from sip:alice@contoso.com 911
[ "$(execs route)" = 2 ] || fail "route: $(execs route) execve, not env + 1"

[ $fail = 0 ] && echo "huge pages: compile and check run again once, other commands not" && exit 0
exit 1
