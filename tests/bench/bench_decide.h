/* What the decision benches under tests/bench (decide_instructions, growth) share: the route
 * counter a runtime spreads with, the clock around each decision, and percentiles of a
 * histogram of 1-ns buckets. */
#ifndef BENCH_DECIDE_H
#define BENCH_DECIDE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

static inline uint32_t bench_spread_counter(void *ud)
{
    return (*(uint32_t *)ud)++;
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
