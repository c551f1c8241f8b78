#!/bin/bash
# plan_pages.sh CALLROUTE PLAN_PAGES: `plan_pages` on a small generated plan, its image in two
# directories (this test's, and /dev/shm when writable): every image decides as the plan
# compiled (plan_pages exits 1 otherwise), the library's mapping of an image is advised
# MADV_HUGEPAGE and 2 MB-aligned (cr_map_file) where the old way's (plain) is not advised, the
# page figures are consistent, the usage and load errors. No timing and no page size is
# checked (they are whatever this machine and its file systems give).
cr=$1 pages=$2
source "$(dirname "$0")/../cli/check_lib.sh"
"$cr" bench --generate routes=300,rules=12,users=2000 --seconds 0.05 --save "$tmp/a.xml" >/dev/null ||
  bad "generate"
dirs=(--dir "$tmp")
[ -w /dev/shm ] && dirs+=(--dir /dev/shm)
out=$("$pages" "$tmp/a.xml" "${dirs[@]}" --seconds 0.1 --rounds 2 --numbers 500) ||
  bad "text run: exit $?"
for l in "300 routes, 500 calls; page sizes under each plan:" "  in-process " \
  "  $tmp private copy " "  $tmp plain " "  $tmp library " ", advised" "round 1 of 2: p50" \
  "round 2 of 2: p50" "the in-process plan's p50 of the same round"; do
  case "$out" in *"$l"*) ;; *) bad "text lacks: $l" ;; esac
done
out=$("$pages" "$tmp/a.xml" "${dirs[@]}" --seconds 0.1 --rounds 2 --numbers 500 --json) ||
  bad "json run: exit $?"
DIRS="${dirs[*]}" python3 -c '
import json, os, sys
j = json.loads(sys.stdin.read())
assert list(j) == ["plan", "routes", "calls", "variants"], list(j)
assert j["routes"] == 300 and j["calls"] == 500, j
dirs = os.environ["DIRS"].split()[1::2]
want = ["in-process", dirs[0] + " private copy"]
for d in dirs:
    want += [d + " plain", d + " library"]
names = [v["name"] for v in j["variants"]]
assert names == want, names
for v in j["variants"]:
    assert 0 <= v["huge_kb"] <= v["rss_kb"], v
    assert v["huge_kb"] == v["anon_huge_kb"] + v["shmem_pmd_kb"] + v["file_pmd_kb"], v
    assert 0 < v["p50_ns"][0] <= v["p50_ns"][1] and 0 < v["ratio"][0] <= v["ratio"][1], v
    if v["name"].endswith(" library"):
        assert v["advised"] and v["aligned"], v
        assert v["rss_kb"] > 0, v  # populated
    if v["name"].endswith(" plain"):
        assert not v["advised"], v
' <<<"$out" || bad "json: $out"
"$pages" >/dev/null 2>&1; [ $? = 2 ] || bad "no plan: want exit 2"
"$pages" "$tmp/a.xml" --rounds 0 >/dev/null 2>&1; [ $? = 2 ] || bad "--rounds 0: want 2"
"$pages" "$tmp/none.xml" >/dev/null 2>&1; [ $? = 1 ] || bad "missing plan: want exit 1"
"$pages" "$tmp/a.xml" --dir "$tmp/none" --seconds 0.1 --rounds 1 >/dev/null 2>&1
[ $? = 1 ] || bad "missing directory: want exit 1"
[ $fail = 0 ] && echo "plan_pages_check: all passed"
exit $((fail > 0))
