#!/usr/bin/env bash
# Side by side: two builds of directory_bench (before / after a change) run alternately,
# RUNS times each, on the same generated users; prints each run's import and lookup lines,
# then min–max per figure for each build. NEW_USERS: the new build imports that many instead
# (a size the old one cannot import, against its figures at USERS).
#   tests/users/dir_compare.sh OLD_BENCH NEW_BENCH [USERS] [LOOKUPS] [RUNS] [NEW_USERS]
set -euo pipefail
old=$1 new=$2 users=${3:-2000000} lookups=${4:-1000000} runs=${5:-3} new_users=${6:-${3:-2000000}}
out=$(mktemp -d /tmp/cr_dircompare_XXXXXX)
trap 'rm -rf "$out"' EXIT
for i in $(seq "$runs"); do
  for which in old new; do
    bin=$old n=$users; [ "$which" = new ] && bin=$new n=$new_users
    /usr/bin/time -f "rss: %M KB, process %e s wall" "$bin" --users "$n" --lookups "$lookups" > "$out/$which.$i" 2>&1
    echo "== $which run $i"; grep -E "^import|^data.mdb|lookup|^  answered|^  not in|^floor|^p50 as|^misses|^rss" "$out/$which.$i"
  done
done
echo "== min–max over $runs runs, $users users (new: $new_users), $lookups lookups"
for which in old new; do
  awk -v w="$which" '
    /^import:/ { for (i = 1; i <= NF; i++) { if ($i == "in") s = $(i + 1); if ($i == "of" && $(i + 1) ~ /^CPU/) v["import CPU s"] = v["import CPU s"] " " $(i - 2) }
                 v["import s"] = v["import s"] " " s }
    /^data.mdb:/ { v["bytes/user"] = v["bytes/user"] " " substr($(NF - 3), 2) }
    /^p50 as a multiple of the floor/ { v["reverse / floor"] = v["reverse / floor"] " " substr($9, 1, length($9) - 2) }
    /^p50 as a multiple of one read/ { v["reverse / 1 read"] = v["reverse / 1 read"] " " substr($9, 1, length($9) - 2) }
    /^floor/ { split($0, a, "p50"); split(a[2], b, " "); k = a[1]; gsub(/ +$/, "", k); v[k " p50 ns"] = v[k " p50 ns"] " " b[1] }
    /^rss/ { v["max RSS MB"] = v["max RSS MB"] " " int($2 / 1024) }
    /lookup/ { split($0, a, "p50"); split(a[2], b, " "); k = a[1]; gsub(/ +$/, "", k); v[k " p50 ns"] = v[k " p50 ns"] " " b[1]
               split($0, c, "p99"); split(c[2], e, " "); v[k " p99 ns"] = v[k " p99 ns"] " " e[1]; last = k }
    /^  (answered|not in)/ { split($0, a, "p50"); split(a[2], b, " "); h = a[1]; gsub(/^ +| +$/, "", h); h = last ", " h
               v[h " p50 ns"] = v[h " p50 ns"] " " b[1]; split($0, c, "[(]"); split(c[2], e, " "); v[h " %"] = v[h " %"] " " e[1] }
    END { for (k in v) { n = split(v[k], x, " "); lo = x[1]; hi = x[1];
            for (i = 2; i <= n; i++) { if (x[i] + 0 < lo + 0) lo = x[i]; if (x[i] + 0 > hi + 0) hi = x[i] }
            printf "%-4s %-40s %s–%s\n", w, k, lo, hi } }' "$out"/$which.*
done | sort
