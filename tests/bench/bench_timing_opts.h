/* The timing options that growth and plan_pages share: --json, --seconds S, --rounds N,
 * --numbers N. Each program parses its own positional arguments and further options. */
#ifndef BENCH_TIMING_OPTS_H
#define BENCH_TIMING_OPTS_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    bool json;
    double seconds;
    long rounds, want; /* timed rounds; calls read from PLAN.numbers */
} bench_timing_opts;

/* Consumes argv[*i] (and its value) when it is a timing option: 1 if consumed, 0 if it is not a
 * timing option, -1 if its value is missing or out of range. */
static int bench_timing_opt(int argc, char **argv, int *i, bench_timing_opts *o)
{
    const char *a = argv[*i];
    char *end = NULL;
    if (!strcmp(a, "--json")) {
        o->json = true;
        return 1;
    }
    bool secs = !strcmp(a, "--seconds");
    long *v = !strcmp(a, "--rounds") ? &o->rounds : !strcmp(a, "--numbers") ? &o->want : NULL;
    if (!secs && !v)
        return 0;
    if (*i + 1 >= argc)
        return -1;
    const char *val = argv[++*i];
    if (secs) {
        o->seconds = strtod(val, &end);
        return *end || !(o->seconds > 0 && o->seconds <= 3600) ? -1 : 1;
    }
    *v = strtol(val, &end, 10);
    return *end || *v < 1 || *v > 10000000 ? -1 : 1;
}

#endif
