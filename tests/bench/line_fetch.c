/*
 * line_fetch — what it costs on this machine to read one line of a random 1 KB block when
 * K lines of the block were prefetched first (issue 17: the directory's reverse lookup
 * prefetches its whole 1 KB bucket, 16 lines, then reads the line of its entry).
 *
 *   line_fetch [MB]     (512 MB of anonymous memory by default)
 *
 * Each row is measured twice: on 4 KB pages (MADV_NOHUGEPAGE) and on 2 MB pages
 * (MADV_HUGEPAGE; the header says how much of the buffer the kernel gave in huge pages). The
 * directory's map may be on either: after an import, or with the huge-page advice the
 * directory gives its map (directory.c), data.mdb's page cache is in 2 MB folios mapped with
 * huge pages; a file faulted in at random without the advice is on 4 KB pages (directory_bench
 * prints which, and --cold measures that case).
 *
 * For each row: 300,000 blocks at random, each timed alone (the clock read twice is in the
 * figure), p50 printed. "then dependent" reads line 0 first and the line after it has come.
 */
#define _GNU_SOURCE
#include "bench_pages.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define BLOCK   1024
#define SAMPLES 300000

static long long now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? -1 : x > y;
}

/* p50 of reading line `line` of random blocks after prefetching lines [0, k) (k 0: none;
 * `dep`: line 0 read first, the line then read once it has come). */
static long long row(const unsigned char *m, size_t blocks, int k, int line, int dep, long long *t)
{
    uint64_t x = 88172645463325252ULL;
    volatile unsigned sink = 0;
    for (int i = 0; i < SAMPLES; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        const unsigned char *b = m + (x % blocks) * BLOCK;
        long long a = now_ns();
        for (int l = 0; l < k; l++)
            __builtin_prefetch(b + l * 64);
        unsigned s = dep ? b[0] : 0;
        sink += b[line * 64 + (s & 1)];
        t[i] = now_ns() - a;
    }
    (void)sink;
    qsort(t, SAMPLES, sizeof *t, cmp_ll);
    return t[SAMPLES / 2];
}

int main(int argc, char **argv)
{
    size_t mb = argc > 1 ? strtoul(argv[1], NULL, 10) : 512;
    if (mb < 64 || mb > 65536) {
        fprintf(stderr, "usage: line_fetch [MB, 64..65536]\n");
        return 2;
    }
    size_t size = mb << 20;
    long long *t = malloc(SAMPLES * sizeof *t);
    if (!t) {
        perror("line_fetch");
        return 2;
    }
    static const struct {
        const char *what;
        int k, line, dep;
    } rows[] = {
        {"one line", 0, 0, 0},
        {"2 lines prefetched, then line 0", 2, 0, 0},
        {"4 lines prefetched, then line 1", 4, 1, 0},
        {"8 lines prefetched, then line 3", 8, 3, 0},
        {"12 lines prefetched, then line 7", 12, 7, 0},
        {"16 lines prefetched, then line 0", 16, 0, 0},
        {"16 lines prefetched, then line 7", 16, 7, 0},
        {"16 lines prefetched, then line 15", 16, 15, 0},
        {"line 0, then dependent line 15", 0, 15, 1},
    };
    enum { NROWS = sizeof rows / sizeof rows[0] };
    long long p50[2][NROWS];
    long huge[2] = {0, 0};
    for (int h = 0; h < 2; h++) { /* 0: 4 KB pages, 1: 2 MB pages; a fresh buffer each */
        unsigned char *m =
            mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED) {
            perror("line_fetch");
            return 2;
        }
        long before = anon_huge_kb();
        madvise(m, size, h ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
        memset(m, 1, size);
        huge[h] = anon_huge_kb() - before;
        for (size_t i = 0; i < NROWS; i++)
            p50[h][i] = row(m, size / BLOCK, rows[i].k, rows[i].line, rows[i].dep, t);
        munmap(m, size);
    }
    printf("random 1 KB blocks in %zu MB of anonymous memory, p50 of %d (%ld MB of the 4 KB-page "
           "buffer in huge pages, %ld MB of the 2 MB-page one):\n",
           mb, SAMPLES, huge[0] < 0 ? 0 : huge[0] >> 10, huge[1] < 0 ? 0 : huge[1] >> 10);
    printf("  %-36s %8s %8s\n", "", "4 KB", "2 MB");
    for (size_t i = 0; i < NROWS; i++)
        printf("  %-36s %5lld ns %5lld ns\n", rows[i].what, p50[0][i], p50[1][i]);
    free(t);
    return 0;
}
