/* What the decision benches under tests/bench (decide_instructions, image_instructions,
 * growth, plan_pages) share: the route counter a runtime spreads with, the digest of a run of
 * decisions, the clock around each decision, and percentiles of a histogram of 1-ns buckets. */
#ifndef BENCH_DECIDE_H
#define BENCH_DECIDE_H

#include "cr_engine.h"

#include <stddef.h>
#include <stdint.h>
#include <time.h>

static inline uint32_t bench_spread_counter(void *ud)
{
    return (*(uint32_t *)ud)++;
}

static inline uint64_t bench_fold(uint64_t h, const char *s)
{
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* Decides the n calls (from[i] dialing dialed[i]) with a fresh route counter, and returns a
 * digest of every decision's kind, reason, number and attempt URIs (the texts written out by
 * cr_decision_reason and cr_attempt_uri): two builds, or two plans, that give the same digest
 * decided the same. */
static inline uint64_t bench_decide_digest(const cr_config *c, char **from, char **dialed, size_t n)
{
    static cr_decision d; /* large: not on the stack */
    uint32_t counter = 0;
    cr_runtime rt = {.ud = &counter, .spread = bench_spread_counter};
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        cr_route_decide(c, from[i], dialed[i], &rt, &d, NULL);
        h = (h ^ (uint64_t)(d.kind + 8)) * 1099511628211ULL;
        char text[CR_URI_SHORT > CR_REASON_MAX ? CR_URI_SHORT : CR_REASON_MAX];
        h = bench_fold(bench_fold(h, cr_decision_reason(&d, text, sizeof text)), d.normalized);
        for (size_t a = 0; a < d.nattempts; a++) {
            cr_attempt_uri(c, &d, a, text, sizeof text);
            h = bench_fold(h, text);
        }
    }
    return h;
}

static inline uint64_t bench_now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* The bucket where the share num/den of `count` samples is reached (the last bucket when the
 * samples end before it). */
static inline uint64_t bench_hist_pct(const uint64_t *hist, size_t buckets, uint64_t count,
                                      uint64_t num, uint64_t den)
{
    uint64_t acc = 0;
    for (size_t i = 0; i < buckets; i++) {
        acc += hist[i];
        if (acc * den >= count * num)
            return i;
    }
    return buckets - 1;
}

#endif
