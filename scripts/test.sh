#!/usr/bin/env bash
# Sets up everything (packages, Kamailio headers), builds, and runs the whole test suite:
# cmocka unit tests, CLI tests, the ABI test, end-to-end tests with Kamailio and sipp, and
# fuzz corpus replays, all through ctest. Then the same suite (minus the e2e tests, which
# drive an uninstrumented Kamailio) under AddressSanitizer + UndefinedBehaviorSanitizer.
#   scripts/test.sh            everything
#   CR_SKIP_SANITIZE=1 scripts/test.sh   skip the sanitizer pass
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
jobs=$(nproc)

"$top/scripts/setup.sh" "$top/build" -DCR_WERROR=ON
echo "== tests (build/)"
# label `load` (the response-group load test, minutes long) runs only on demand: ctest -L load
(cd "$top/build" && ctest --output-on-failure -j"$jobs" --timeout 300 -LE load)

if [ -z "${CR_SKIP_SANITIZE:-}" ]; then
  echo "== tests under ASan+UBSan (build-asan/)"
  "$top/scripts/setup.sh" "$top/build-asan" -DCR_WERROR=ON -DCR_SANITIZE=address,undefined -DCMAKE_BUILD_TYPE=Debug
  (cd "$top/build-asan" && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
     UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
     ctest --output-on-failure -j"$jobs" --timeout 600 -LE "e2e|load")
fi
