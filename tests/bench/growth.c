/*
 * growth — how much a decision slows from a small plan to a large one, both measured in one
 * process in alternating blocks (issue 17: p50 at 400,000 routes ≤ 1.2× p50 at 100 routes):
 *
 *   callroute bench --generate routes=100,rules=1000,users=100000 --save p100.xml --seconds 0.1
 *   callroute bench --generate routes=400000,rules=1000,users=100000 --save p400k.xml --seconds 0.1
 *   growth p100.xml p400k.xml [--seconds S] [--rounds R] [--numbers N] [--json]
 *
 * Two separate runs of `callroute bench` see the machine at two different minutes; on a VM
 * whose speed moves by up to 2× from one minute to the next, their ratio says more about the
 * minutes than about the plans. Here both plans are loaded at once and decided in alternating
 * blocks of 20 ms (the first N (20,000) calls of each plan's PLAN.numbers, over and over), so
 * both see the same machine; each decision is timed (the pair of clock reads is in the figure,
 * as in `callroute bench`). Each of R (3) rounds of S (5) seconds prints both p50s and their
 * ratio, large over small; then the min–max of each over the rounds. Both plans are decided
 * once first (warm caches, PCRE2's JIT stacks). Exit status 0, 1 when a plan or its numbers do
 * not load, 2 on a usage error.
 */
#include "cr_engine.h"
#include "cr_rules.h"

#include "bench_decide.h"
#include "bench_numbers.h"
#include "bench_timing_opts.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BUCKETS  8192 /* 1-ns buckets; the last holds every decision of 8.19 us or more */
#define BLOCK_NS 20000000ull

typedef struct plan {
    const char *path;
    cr_config *cfg;
    char **from, **dialed;
    size_t n, next;
    uint32_t counter;
    uint64_t hist[BUCKETS], count;
} plan;

static int load(plan *p, size_t want)
{
    cr_diag diag;
    cr_diag_init(&diag);
    int rc = cr_rules_load(p->path, &p->cfg, &diag);
    cr_diag_free(&diag);
    if (rc != CR_OK) {
        fprintf(stderr, "growth: %s does not load\n", p->path);
        return -1;
    }
    p->n = bench_numbers_read("growth", p->path, want, &p->from, &p->dialed);
    if (p->n == (size_t)-1 || p->n == 0) {
        if (p->n == 0)
            fprintf(stderr, "growth: %s.numbers has no \"FROM NUMBER\" line\n", p->path);
        p->n = 0;
        return -1;
    }
    return 0;
}

static void unload(plan *p)
{
    bench_numbers_free(p->from, p->dialed, p->n);
    cr_config_free(p->cfg);
}

/* Decides p's calls in order, from where its last block stopped, until `ns` have passed. */
static void block(plan *p, uint64_t ns, bool timed)
{
    static cr_decision d; /* large: not on the stack */
    cr_runtime rt = {.ud = &p->counter, .spread = bench_spread_counter};
    uint64_t t0 = bench_now_ns();
    do {
        for (size_t k = 0; k < 256; k++) {
            size_t i = p->next++ % p->n;
            uint64_t s = bench_now_ns();
            cr_route_decide(p->cfg, p->from[i], p->dialed[i], &rt, &d, NULL);
            uint64_t dt = bench_now_ns() - s;
            if (timed) {
                p->hist[dt < BUCKETS - 1 ? dt : BUCKETS - 1]++;
                p->count++;
            }
        }
    } while (bench_now_ns() - t0 < ns);
}

static uint64_t pct(const plan *p, uint64_t num, uint64_t den)
{
    return bench_hist_pct(p->hist, BUCKETS, p->count, num, den);
}

static void span(double *mm, double v, bool first)
{
    if (first || v < mm[0])
        mm[0] = v;
    if (first || v > mm[1])
        mm[1] = v;
}

static int usage(void)
{
    fprintf(stderr, "usage: growth SMALL.xml LARGE.xml [--seconds S] [--rounds R] [--numbers N] "
                    "[--json]\n");
    return 2;
}

int main(int argc, char **argv)
{
    static plan pl[2];
    bench_timing_opts o = {.seconds = 5, .rounds = 3, .want = 20000};
    int np = 0;
    for (int i = 1; i < argc; i++) {
        int t = bench_timing_opt(argc, argv, &i, &o);
        if (t < 0)
            return usage();
        if (t > 0)
            continue;
        if (argv[i][0] != '-' && np < 2)
            pl[np++].path = argv[i];
        else
            return usage();
    }
    double seconds = o.seconds;
    long rounds = o.rounds, want = o.want;
    bool json = o.json;
    if (np != 2)
        return usage();
    int rc = 0;
    for (int k = 0; k < 2 && rc == 0; k++)
        if (load(&pl[k], (size_t)want) < 0)
            rc = 1;
    if (rc == 0) {
        double p50[2][2] = {{0}}, p99[2][2] = {{0}}, ratio[2] = {0};
        if (json)
            printf("{\"small\": \"%s\", \"large\": \"%s\", \"small_routes\": %zu, "
                   "\"large_routes\": %zu, \"rounds\": [",
                   pl[0].path, pl[1].path, cr_config_route_count(pl[0].cfg),
                   cr_config_route_count(pl[1].cfg));
        for (int k = 0; k < 2; k++) /* every call once: warm caches and JIT stacks */
            for (size_t i = 0; i < pl[k].n; i += 256) /* 256 a block */
                block(&pl[k], 0, false);
        for (long r = 0; r < rounds; r++) {
            for (int k = 0; k < 2; k++) {
                memset(pl[k].hist, 0, sizeof pl[k].hist);
                pl[k].count = 0;
            }
            uint64_t end = bench_now_ns() + (uint64_t)(seconds * 1e9);
            while (bench_now_ns() < end) {
                block(&pl[0], BLOCK_NS, true);
                block(&pl[1], BLOCK_NS, true);
            }
            double a = (double)pct(&pl[0], 1, 2), b = (double)pct(&pl[1], 1, 2);
            double g = a > 0 ? b / a : 0;
            for (int k = 0; k < 2; k++) {
                span(p50[k], (double)pct(&pl[k], 1, 2), r == 0);
                span(p99[k], (double)pct(&pl[k], 99, 100), r == 0);
            }
            span(ratio, g, r == 0);
            if (json)
                printf("%s{\"small_p50_ns\": %.0f, \"large_p50_ns\": %.0f, \"small_p99_ns\": %llu, "
                       "\"large_p99_ns\": %llu, \"growth\": %.3f}",
                       r ? ", " : "", a, b, (unsigned long long)pct(&pl[0], 99, 100),
                       (unsigned long long)pct(&pl[1], 99, 100), g);
            else
                printf("round %ld of %ld: %zu routes p50 %.0f ns, %zu routes p50 %.0f ns: "
                       "growth %.2fx\n",
                       r + 1, rounds, cr_config_route_count(pl[0].cfg), a,
                       cr_config_route_count(pl[1].cfg), b, g);
            fflush(stdout);
        }
        if (json)
            printf("], \"small_p50_ns\": [%.0f, %.0f], \"large_p50_ns\": [%.0f, %.0f], "
                   "\"small_p99_ns\": [%.0f, %.0f], \"large_p99_ns\": [%.0f, %.0f], "
                   "\"growth\": [%.3f, %.3f]}\n",
                   p50[0][0], p50[0][1], p50[1][0], p50[1][1], p99[0][0], p99[0][1], p99[1][0],
                   p99[1][1], ratio[0], ratio[1]);
        else
            printf("small   %zu routes: p50 %.0f-%.0f ns, p99 %.0f-%.0f ns\n"
                   "large   %zu routes: p50 %.0f-%.0f ns, p99 %.0f-%.0f ns\n"
                   "growth  %.2f-%.2fx (large p50 / small p50, per round; %ld rounds of %g s, "
                   "alternating 20 ms blocks)\n",
                   cr_config_route_count(pl[0].cfg), p50[0][0], p50[0][1], p99[0][0], p99[0][1],
                   cr_config_route_count(pl[1].cfg), p50[1][0], p50[1][1], p99[1][0], p99[1][1],
                   ratio[0], ratio[1], rounds, seconds);
    }
    for (int k = 0; k < 2; k++)
        if (pl[k].cfg)
            unload(&pl[k]);
    return rc;
}
