/*
 * decide_instructions — the decisions of `callroute bench` without its naive scan, for
 * counting instructions per decision under callgrind (issue 17):
 *
 *   callroute bench --generate routes=10000,rules=1000,users=100000 --save PLAN.xml --seconds 0.1
 *   valgrind --tool=callgrind --toggle-collect=decide_all decide_instructions PLAN.xml [N]
 *
 * Loads PLAN.xml, reads the first N (10,000) lines of PLAN.xml.numbers ("FROM NUMBER"),
 * decides each twice (the first pass warms the caches and PCRE2's JIT stacks), and prints a
 * digest of every decision's kind, reason, number and attempt URIs (the texts written out by
 * cr_decision_reason and cr_attempt_uri): two builds that print the same digest decided the
 * same. Instructions per decision: cr_route_decide's inclusive count divided by 2 N (the
 * texts the digest reads: cr_decision_reason's and cr_attempt_uri's).
 *
 *   perf record -e cpu-clock decide_instructions PLAN.xml N SECONDS
 *
 * With SECONDS, then decides the N calls over and over for that long, each timed (the clock
 * read twice a decision is in the figure), and prints p50, p99 and the mean: a profile of the
 * decisions alone, without the bench's naive scan in between.
 */
#include "cr_engine.h"
#include "cr_rules.h"

#include "bench_decide.h"
#include "bench_numbers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The function callgrind's --toggle-collect names. */
__attribute__((noinline)) static uint64_t decide_all(const cr_config *c, char **from, char **dialed,
                                                     size_t n)
{
    return bench_decide_digest(c, from, dialed, n);
}

/* Decides the n calls over and over for `seconds`, each timed into 1-ns buckets (the last one
 * holds every decision of 4 us or more). */
static void decide_for(const cr_config *c, char **from, char **dialed, size_t n, double seconds)
{
    static uint64_t hist[4096];
    static cr_decision d;
    uint32_t counter = 0;
    cr_runtime rt = {.ud = &counter, .spread = bench_spread_counter};
    uint64_t t0 = bench_now_ns(), end = t0 + (uint64_t)(seconds * 1e9), count = 0;
    while (n && bench_now_ns() < end)
        for (size_t i = 0; i < n; i++, count++) {
            uint64_t s = bench_now_ns();
            cr_route_decide(c, from[i], dialed[i], &rt, &d, NULL);
            uint64_t dt = bench_now_ns() - s;
            hist[dt < 4095 ? dt : 4095]++;
        }
    uint64_t p50 = bench_hist_pct(hist, 4096, count, 1, 2);
    uint64_t p99 = bench_hist_pct(hist, 4096, count, 99, 100);
    printf("%llu decisions in %.1f s: p50 %llu ns, p99 %llu ns, mean %.1f ns\n",
           (unsigned long long)count, (double)(bench_now_ns() - t0) / 1e9, (unsigned long long)p50,
           (unsigned long long)p99, count ? (double)(bench_now_ns() - t0) / (double)count : 0.0);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: decide_instructions PLAN.xml [N [SECONDS]]\n");
        return 2;
    }
    size_t want = argc > 2 ? strtoul(argv[2], NULL, 10) : 10000, n = 0;
    cr_config *c = NULL;
    cr_diag diag;
    cr_diag_init(&diag);
    if (cr_rules_load(argv[1], &c, &diag) != CR_OK) {
        fprintf(stderr, "decide_instructions: %s does not load\n", argv[1]);
        cr_diag_free(&diag);
        return 1;
    }
    cr_diag_free(&diag);
    char **from, **dialed;
    n = bench_numbers_read("decide_instructions", argv[1], want, &from, &dialed);
    if (n == (size_t)-1)
        return 1;
    decide_all(c, from, dialed, n);
    uint64_t h = decide_all(c, from, dialed, n);
    printf("%zu numbers, 2 passes, digest %016llx\n", n, (unsigned long long)h);
    if (argc > 3)
        decide_for(c, from, dialed, n, strtod(argv[3], NULL));
    bench_numbers_free(from, dialed, n);
    cr_config_free(c);
    return 0;
}
