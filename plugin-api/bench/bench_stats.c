/* `callroute bench`: memory figures, random numbers and latency samples. */
#include "bench_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void crb_rss(size_t *cur, size_t *peak)
{
    char line[256];
    *cur = *peak = 0;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "VmRSS:", 6) == 0)
            *cur = strtoull(line + 6, NULL, 10) * 1024;
        else if (strncmp(line, "VmHWM:", 6) == 0)
            *peak = strtoull(line + 6, NULL, 10) * 1024;
    }
    fclose(f);
}

uint32_t crb_rnd(crb_rng *r)
{
    r->s = r->s * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(r->s >> 33);
}

uint32_t crb_below(crb_rng *r, uint32_t n)
{
    return n ? crb_rnd(r) % n : 0;
}

bool crb_samples_init(crb_samples *s, size_t cap, uint64_t seed)
{
    memset(s, 0, sizeof *s);
    s->v = malloc(cap * sizeof *s->v);
    s->cap = cap;
    s->r.s = seed;
    return s->v != NULL;
}

void crb_samples_add(crb_samples *s, uint64_t ns)
{
    uint32_t v = ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
    s->total_ns += ns;
    if (ns > s->max)
        s->max = ns;
    s->seen++;
    if (s->n < s->cap) {
        s->v[s->n++] = v;
        return;
    }
    uint64_t k = ((uint64_t)crb_rnd(&s->r) << 31 ^ crb_rnd(&s->r)) % s->seen;
    if (k < s->cap)
        s->v[k] = v;
}

static int u32_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

void crb_samples_sort(crb_samples *s)
{
    qsort(s->v, s->n, sizeof *s->v, u32_cmp);
}

double crb_samples_pct(const crb_samples *s, double p)
{
    if (!s->n)
        return 0;
    size_t k = (size_t)(p / 100.0 * (double)(s->n - 1) + 0.5);
    return s->v[k];
}
