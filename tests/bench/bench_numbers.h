/* The calls of a generated plan (PLAN.numbers: "FROM NUMBER" lines, as `callroute bench
 * --generate ... --save PLAN` writes them), read by the instruction-counting benches. */
#ifndef BENCH_NUMBERS_H
#define BENCH_NUMBERS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reads up to `want` calls of plan's numbers file into *from and *dialed (malloc'd); the count
 * read, or (size_t)-1 with a message naming `prog` when the file or memory is missing. */
static size_t bench_numbers_read(const char *prog, const char *plan, size_t want, char ***from,
                                 char ***dialed)
{
    char path[4096], line[1024];
    snprintf(path, sizeof path, "%s.numbers", plan);
    FILE *f = fopen(path, "r");
    *from = calloc(want ? want : 1, sizeof **from);
    *dialed = calloc(want ? want : 1, sizeof **dialed);
    if (!f || !*from || !*dialed) {
        fprintf(stderr, "%s: cannot read %s\n", prog, path);
        return (size_t)-1;
    }
    size_t n = 0;
    while (n < want && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        char *sp = strchr(line, ' ');
        if (!sp)
            continue; /* "FROM NUMBER" lines only (the generator writes those) */
        *sp = 0;
        (*from)[n] = strdup(line);
        (*dialed)[n] = strdup(sp + 1);
        if (!(*from)[n] || !(*dialed)[n])
            return (size_t)-1;
        n++;
    }
    fclose(f);
    return n;
}

/* Frees what bench_numbers_read gave: n calls. */
static inline void bench_numbers_free(char **from, char **dialed, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(from[i]);
        free(dialed[i]);
    }
    free(from);
    free(dialed);
}

#endif
