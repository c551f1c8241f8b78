/*
 * The time a host takes to open the response groups of a plan image (rgs_open_ex), as
 * Kamailio's main process does in mod_init and each worker that opens them: LIB is loaded with
 * dlopen, PLAN opened (cr_open), then the response groups opened and closed RUNS times. Prints
 * the first open (a fresh process: what it loads on first use counts), the fastest of the
 * others, and whether libxml2 got mapped. Linked with nothing but libc.
 *
 *   rgs_open LIB PLAN [RUNS]
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_plugin.h"

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static bool maps(const char *part)
{
    char line[1024];
    bool found = false;
    FILE *f = fopen("/proc/self/maps", "r");
    while (f && fgets(line, sizeof line, f))
        found |= strstr(line, part) != NULL;
    if (f)
        fclose(f);
    return found;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: rgs_open LIB PLAN [RUNS]\n");
        return 2;
    }
    int runs = argc > 3 ? atoi(argv[3]) : 20;
    const cr_plugin *p = bench_plugin_open("rgs_open", argv[1]);
    if (!p)
        return 1;
    cr_open_options o = {0};
    o.size = sizeof o;
    char err[1024];
    cr_handle *h = NULL;
    if (p->open(argv[2], &o, &h, err, sizeof err) != CR_ABI_OK) {
        fprintf(stderr, "rgs_open: %s\n", err);
        return 1;
    }
    double first = 0, best = 1e9;
    for (int i = 0; i <= runs; i++) {
        cr_rgs *r = NULL;
        double t0 = now_ms();
        if (p->rgs_open_ex(h, NULL, &r, err, sizeof err) != CR_ABI_OK) {
            fprintf(stderr, "rgs_open: %s\n", err);
            return 1;
        }
        double ms = now_ms() - t0;
        p->rgs_close(r);
        if (i == 0)
            first = ms;
        else if (ms < best)
            best = ms;
    }
    printf("first %.3f ms, then %.3f ms (fastest of %d); libxml2 %s\n", first, best, runs,
           maps("libxml2") ? "mapped" : "not mapped");
    p->close(h);
    return 0;
}
