#!/bin/sh
# Reloads under load: 2 threads decide through the library's snapshots while the plan is
# reloaded back to back, alternating between two twins whose object names carry a tag; every
# decision must succeed with the expected kind and name objects of one configuration only,
# and resident memory must not grow once the allocator has warmed up (after 100 reloads).
# Usage: reload_check.sh CALLROUTE [RELOADS]
set -eu
cli=$1
reloads=${2:-600}
# Under AddressSanitizer freed memory sits in its quarantine (up to 256 MB) and looks like
# growth: keep the quarantine small so that only real growth counts.
if ldd "$cli" 2>/dev/null | grep -q libasan || \
   ldd "$(dirname "$cli")/libcallroute.so.1" 2>/dev/null | grep -q libasan; then
  export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=16"
fi
out=$(CALLROUTE_QUIET=1 "$cli" bench --generate routes=300,rules=60,users=2000 --seconds 1 \
      --reloads "$reloads" --threads 2 --json) || { echo "bench failed: $out"; exit 1; }
echo "$out"
python3 - "$out" <<'PY'
import json, sys
j = json.loads(sys.argv[1])
bad = []
for k in ("mismatches", "reload_failures", "reload_mixes", "reloads_failed"):
    if j[k] != 0:
        bad.append("%s = %s" % (k, j[k]))
if j["reloads"] < 200:
    bad.append("only %s reloads" % j["reloads"])
if j["rss_growth_bytes"] > 4 * 1024 * 1024:
    bad.append("resident memory grew by %d bytes after the 100th reload" % j["rss_growth_bytes"])
if bad:
    print("FAIL: " + "; ".join(bad))
    sys.exit(1)
print("ok: %d reloads, %d decisions, none failed or mixed, memory %+d bytes"
      % (j["reloads"], j["reload_decisions"], j["rss_growth_bytes"]))
PY
