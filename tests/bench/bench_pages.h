/* Page sizes seen by a benchmark program (line_fetch, directory_bench): header only. */
#ifndef CR_BENCH_PAGES_H
#define CR_BENCH_PAGES_H

#include <stdio.h>

/* This process's anonymous memory in huge pages, in kB (smaps_rollup), or -1. */
static inline long anon_huge_kb(void)
{
    FILE *f = fopen("/proc/self/smaps_rollup", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "AnonHugePages: %ld kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb;
}

#endif
